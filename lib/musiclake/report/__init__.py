"""``musiclake report``: a self-contained HTML report of the lake, built from the packaged analytics queries.

* :mod:`musiclake.report.build` - runs ``lib/musiclake/sql/*.sql`` through the local query engine (no Spark) and
  assembles the sections;
* :mod:`musiclake.report.charts` - the matplotlib charts (inlined as PNG data URIs);
* :mod:`musiclake.report.html` - the page's building blocks;
* :mod:`musiclake.report.command` - the CLI.
"""
