"""Playlist continuation with Spark MLlib ALS on implicit playlist x track feedback.

Modules, in the order the training job (:mod:`musiclake.jobs.train_als`) uses them; column names and the output
tables are in :mod:`musiclake.schemas`, the id maps in :mod:`musiclake.transforms.ids`:

* :mod:`~musiclake.recommend.store`    - load interactions; save the versioned model and the tables;
* :mod:`~musiclake.recommend.training` - evaluate, refit, recommend: the job's stages (no I/O);
* :mod:`~musiclake.recommend.split`    - per-playlist holdout (evaluation) and validation (tuning) splits;
* :mod:`~musiclake.recommend.tuning`   - grid search on a validation split carved from the training data;
* :mod:`~musiclake.recommend.fit`      - ALS parameters, fitting, the item Gram matrix ``Y^T Y``;
* :mod:`~musiclake.recommend.topk`     - top-k per playlist with the playlist's own tracks excluded;
* :mod:`~musiclake.recommend.baseline` - the popularity baseline;
* :mod:`~musiclake.recommend.metrics`  - P@K, R@K, NDCG@K, MAP@K and the RecSys Challenge 2018 metrics;
* :mod:`~musiclake.recommend.similar`  - similar tracks by cosine similarity of the item factors;
* :mod:`~musiclake.recommend.foldin`   - a new playlist's factors from seed tracks, without retraining;
* :mod:`~musiclake.recommend.serve`    - the Spark path of an answer (the reference of :mod:`musiclake.serve`);
  :mod:`~musiclake.recommend.command` - the ``musiclake recommend`` parser.
"""
