"""Playlist continuation with Spark MLlib ALS on implicit playlist x track feedback.

Modules, in the order the training job uses them:

* :mod:`~musiclake.recommend.tables`  - column names and the output tables (evaluations, recommendations,
  similar_tracks) with their column comments;
* :mod:`~musiclake.recommend.ids`     - deterministic, stable string id -> int index maps;
* :mod:`~musiclake.recommend.split`   - per-playlist holdout (evaluation) and validation (tuning) splits;
* :mod:`~musiclake.recommend.metrics` - P@K, R@K, NDCG@K, MAP@K and the RecSys Challenge 2018 metrics;
* :mod:`~musiclake.recommend.als`     - fitting, top-k with seen tracks excluded, popularity baseline,
  similar tracks;
* :mod:`~musiclake.recommend.tuning`  - grid search on a validation split carved from the training data;
* :mod:`~musiclake.recommend.foldin`  - a new playlist's factors from seed tracks, without retraining;
* :mod:`~musiclake.recommend.pipeline` - evaluate, refit, recommend: what ``glue_jobs/v1/train_als.py`` runs;
* :mod:`~musiclake.recommend.store`   - load interactions, save the versioned model and the tables;
* :mod:`~musiclake.recommend.serve` and :mod:`~musiclake.recommend.command` - ``musiclake recommend``.
"""
