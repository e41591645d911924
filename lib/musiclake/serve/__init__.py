"""The JVM-free read path and the HTTP API: answers from a trained model in milliseconds, no Spark.

* :mod:`~musiclake.serve.model` - a model version loaded with pyarrow / delta-rs / numpy: the item and playlist
  factors as float32 matrices ordered by index, the id maps, ``Y^T Y``, the popular tracks, each playlist's tracks
  (from the training input) and the catalog names.
* :mod:`~musiclake.serve.scoring` - top-k by one matrix product per batch of requests, re-ranked exactly.
* :mod:`~musiclake.serve.recommend` - a known playlist, a new one from seed tracks (fold-in), similar tracks, the
  popularity fallback: the same answers as :mod:`musiclake.recommend.serve` (the Spark path).
* :mod:`~musiclake.serve.holder` - the served model, swapped for a newly trained version without a restart.
* :mod:`~musiclake.serve.app` - the FastAPI app (``musiclake serve``), :mod:`~musiclake.serve.lambda_app` the same
  app on AWS Lambda; :mod:`~musiclake.serve.command` the CLI (``serve``, ``similar``, and the JVM-free
  ``recommend`` and ``tables`` handlers).

Nothing here imports pyspark (``tests/serve`` checks it), so it runs in the small serving image.
"""
