"""Glue job raw_to_interactions (v1): raw_to_curated then build_interactions in one job run (one Spark session).

    --JOB_NAME name --raw_path URI --lake_path URI --database NAME [--reprocess true|false] [--max_bad_fraction 0.05]
    [--verify_checksums true|false] [--max_record_bytes N]
"""

import sys

from musiclake.jobs.raw_to_interactions import RawToInteractionsOptions, run
from musiclake.runtime import run_job


def main(argv: list[str] | None = None) -> None:
    run_job(RawToInteractionsOptions, run, argv)


if __name__ == "__main__":
    main(sys.argv)
