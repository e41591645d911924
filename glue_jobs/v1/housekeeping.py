"""Glue job housekeeping (v1): expire old quarantine, OPTIMIZE and VACUUM the lake's Delta tables (weekly).

    --JOB_NAME n --lake_path URI --database NAME [--vacuum_retention_hours 168] [--allow_short_retention false]
    [--quarantine_retention_days 90] [--optimize true|false] [--tables quarantine,tracks,...]
"""

import sys

from musiclake.jobs.housekeeping import HousekeepingOptions, run
from musiclake.runtime import run_job


def main(argv: list[str] | None = None) -> None:
    run_job(HousekeepingOptions, run, argv)


if __name__ == "__main__":
    main(sys.argv)
