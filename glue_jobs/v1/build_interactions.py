"""Glue job build_interactions (v1): playlist_tracks -> interactions (playlist x track) + stable id maps.

    --JOB_NAME name --lake_path URI --database NAME
"""

import sys

from musiclake.jobs.build_interactions import BuildInteractionsOptions, run
from musiclake.runtime import run_job


def main(argv: list[str] | None = None) -> None:
    run_job(BuildInteractionsOptions, run, argv)


if __name__ == "__main__":
    main(sys.argv)
