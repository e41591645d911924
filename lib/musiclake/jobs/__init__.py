"""One module per Glue job: ``run(spark, options)`` reads load -> named stages -> check -> save."""
