"""ETL benchmark: raw MPD landing -> curated tables, the Glue jobs side by side with DuckDB on the same input.

For each size: synthetic MPD slices (``musiclake-sim generate-mpd``, seeded) are landed by the real importer
(``musiclake-extract mpd``); then, on the same landing files,

* **musiclake**: ``glue_jobs/v1/raw_to_curated.py`` then ``glue_jobs/v1/build_interactions.py``, each started as
  Glue starts it (a fresh ``python`` process, local Spark ``local[2]``, Delta, Derby metastore), wall time and
  peak RSS of the process tree (JVM included); and ``glue_jobs/v1/raw_to_interactions.py``, the same two jobs
  in one process (the ETL workflow's job on Glue), into a lake of its own;
* **DuckDB** (the single-machine reference, same thread count): read the same gzip JSON Lines envelopes with an
  explicit schema, flatten playlists and items, keep the latest observation per key, derive tracks / artists /
  albums, number playlists and tracks densely and count interactions, and write each table as Parquet.

The DuckDB side does less than the job (no quarantine, no data-quality checks, no Delta MERGE or catalog), so
the ratio is an upper bound of what the Spark code itself costs. Rows are playlist items (``playlist_tracks``).

With ``--incremental N``, after a size's full Spark run, a batch of N changed Spotify API playlists (the
simulator's Spotify server, ``musiclake_sim``, and the real extractor: N playlists landed, then each edited and
landed again, so the second run holds the N changed snapshots and the tracks new to the landing zone) is curated
and the interactions built (a) into the lake just built (the first version of those playlists curated beforehand,
untimed) and (b) into an empty lake; both wall times and their ratio are reported (the aim: (a) at most twice (b),
so a job's cost follows its batch, not the lake).

With ``--repeat N`` (N > 1), DuckDB and ``raw_to_interactions`` then run N more times each, one after the other
(DuckDB, the job, DuckDB, the job, ...; the job into a new lake each time), and the report adds their medians,
ranges and the ratio of the medians: on a machine whose speed drifts from minute to minute, a ratio of two single
runs can move by more than the change being measured.

Usage::

    python bench/etl_bench.py --sizes 1000,10000 [--only duckdb|spark] [--profile] [--no-write] [--incremental N]
                              [--repeat N]

``--profile`` runs each job under pyinstrument and leaves ``<job>.pyinstrument.txt`` next to its log (the
Python call tree with wall time: which Spark actions, MERGEs and checks the time goes to).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_HOME, Measured, append_section, run_measured, spark_env, table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
JOBS = REPO / "glue_jobs" / "v1"
ONE_RUN = "raw_to_interactions"  # the two jobs in one process, one session

ITEM = (
    "STRUCT(pos INTEGER, artist_name VARCHAR, track_uri VARCHAR, artist_uri VARCHAR, track_name VARCHAR, "
    "album_uri VARCHAR, duration_ms BIGINT, album_name VARCHAR)"
)
BODY = (
    "STRUCT(name VARCHAR, collaborative VARCHAR, pid BIGINT, modified_at BIGINT, num_tracks INTEGER, "
    "num_albums INTEGER, num_followers INTEGER, num_edits INTEGER, duration_ms BIGINT, num_artists INTEGER, "
    f"description VARCHAR, tracks {ITEM}[])"
)
ENVELOPE = {
    "run_id": "VARCHAR", "source": "VARCHAR", "entity": "VARCHAR", "key": "VARCHAR", "request_url": "VARCHAR",
    "http_status": "INTEGER", "fetched_at": "VARCHAR", "body": BODY,
}

DUCKDB_SQL = """
CREATE TEMP TABLE envelopes AS
  SELECT * FROM read_json({files}, format = 'newline_delimited', compression = 'gzip', columns = {columns});
CREATE TEMP TABLE snapshots AS
  SELECT 'mpd:' || body.pid AS playlist_id, run_id, to_timestamp(body.modified_at) AS observed_at, body
  FROM envelopes WHERE source = 'mpd' AND entity = 'playlists' AND body.pid IS NOT NULL;
CREATE TEMP TABLE playlists AS
  SELECT playlist_id, 'mpd' AS source, body.name AS name, body.description AS description,
         body.collaborative = 'true' AS collaborative, body.num_followers AS num_followers,
         body.num_edits AS num_edits, len(body.tracks) AS num_tracks, observed_at, run_id
  FROM snapshots
  QUALIFY row_number() OVER (PARTITION BY playlist_id ORDER BY observed_at DESC, run_id DESC) = 1;
CREATE TEMP TABLE items AS
  SELECT s.playlist_id, s.run_id, s.observed_at, unnest(s.body.tracks) AS t
  FROM snapshots AS s SEMI JOIN playlists AS p ON s.playlist_id = p.playlist_id AND s.run_id = p.run_id;
CREATE TEMP TABLE playlist_tracks AS
  SELECT playlist_id, t.pos AS position, 'mpd' AS source, split_part(t.track_uri, ':', 3) AS track_id,
         t.track_uri AS uri, 'track' AS item_type, observed_at, run_id
  FROM items
  QUALIFY row_number() OVER (PARTITION BY playlist_id, t.pos ORDER BY observed_at DESC, run_id DESC) = 1;
COPY (SELECT split_part(t.track_uri, ':', 3) AS track_id, t.track_name AS name,
             split_part(t.album_uri, ':', 3) AS album_id, [split_part(t.artist_uri, ':', 3)] AS artist_ids,
             t.duration_ms AS duration_ms, observed_at
      FROM items
      QUALIFY row_number() OVER (PARTITION BY split_part(t.track_uri, ':', 3) ORDER BY observed_at DESC) = 1)
  TO '{out}/tracks.parquet' (FORMAT parquet);
COPY (SELECT split_part(t.artist_uri, ':', 3) AS artist_id, t.artist_name AS name, observed_at FROM items
      QUALIFY row_number() OVER (PARTITION BY split_part(t.artist_uri, ':', 3) ORDER BY observed_at DESC) = 1)
  TO '{out}/artists.parquet' (FORMAT parquet);
COPY (SELECT split_part(t.album_uri, ':', 3) AS album_id, t.album_name AS name, observed_at FROM items
      QUALIFY row_number() OVER (PARTITION BY split_part(t.album_uri, ':', 3) ORDER BY observed_at DESC) = 1)
  TO '{out}/albums.parquet' (FORMAT parquet);
COPY playlists TO '{out}/playlists.parquet' (FORMAT parquet);
COPY playlist_tracks TO '{out}/playlist_tracks.parquet' (FORMAT parquet);
CREATE TEMP TABLE playlist_ids AS
  SELECT playlist_id, (row_number() OVER (ORDER BY playlist_id) - 1)::INTEGER AS playlist_idx
  FROM (SELECT DISTINCT playlist_id FROM playlist_tracks WHERE track_id <> '');
CREATE TEMP TABLE track_ids AS
  SELECT track_id, (row_number() OVER (ORDER BY track_id) - 1)::INTEGER AS track_idx
  FROM (SELECT DISTINCT track_id FROM playlist_tracks WHERE track_id <> '');
COPY playlist_ids TO '{out}/playlist_ids.parquet' (FORMAT parquet);
COPY track_ids TO '{out}/track_ids.parquet' (FORMAT parquet);
COPY (SELECT p.playlist_idx, t.track_idx, count(*)::DOUBLE AS weight
      FROM playlist_tracks AS m JOIN playlist_ids AS p USING (playlist_id) JOIN track_ids AS t USING (track_id)
      GROUP BY ALL) TO '{out}/interactions.parquet' (FORMAT parquet);
"""


def landing_files(landing: Path) -> list[str]:
    """The files the complete landing runs' manifests list (exactly what raw_to_curated reads)."""
    from musiclake import landing as contract

    return [uri for m in contract.complete_runs(str(landing)) for uri in m.file_uris(str(landing))]


def run_duckdb(landing: Path, out: Path, threads: int) -> dict[str, int]:
    """The DuckDB flatten + dedupe + interactions into Parquet (runs in its own process, see ``--duckdb-only``)."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in ENVELOPE.items()) + "}"
    sql = DUCKDB_SQL.format(files=json.dumps(landing_files(landing)).replace('"', "'"), columns=columns, out=out)
    for statement in filter(str.strip, sql.split(";")):
        con.execute(statement)
    return {name: con.execute(f"SELECT count(*) FROM '{out}/{name}.parquet'").fetchone()[0]
            for name in ("playlists", "playlist_tracks", "tracks", "interactions")}


def duckdb_process(landing: Path, out: Path, log: Path, threads: int) -> Measured:
    """:func:`run_duckdb` in a process of its own, measured; its table counts are the last line of ``log``."""
    duck = run_measured([sys.executable, __file__, "--threads", str(threads), "--duckdb-only", str(landing),
                         str(out)], log=log)
    if duck.returncode:
        raise SystemExit(f"DuckDB failed (exit {duck.returncode}); see {log}")
    return duck


def land(mpd: Path, landing: Path) -> Measured:
    return run_measured([str(BIN / "musiclake-extract"), "mpd", "--source", str(mpd), "--landing", str(landing)])


def spark_jobs(landing: Path, work: Path, profile: bool = False, code: Path | None = None,
               jobs: tuple[str, ...] = ("raw_to_curated", "build_interactions"),
               label: str = "") -> dict[str, Measured]:
    """The Glue jobs, each as its own process (as on Glue), on the lake ``work/lake`` (new, or left by an earlier
    call); optionally under pyinstrument.

    ``code``: another checkout of the repository whose jobs and library run instead (a before/after figure).
    ``jobs``: which to run, in order (the two, or ``raw_to_interactions``: both in one process); ``label``
    prefixes their log and profile names.
    """
    lake, home = work / "lake", work / "home"
    work.mkdir(parents=True, exist_ok=True)
    env = spark_env(home)
    scripts = JOBS
    if code:
        env["PYTHONPATH"] = f"{code / 'lib'}:{code / 'extract'}"
        scripts = code / "glue_jobs" / "v1"
    common = ["--lake_path", str(lake), "--database", "musiclake"]
    curate = ["--raw_path", str(landing)]
    options = {"raw_to_curated": curate, "build_interactions": [], "raw_to_interactions": curate}
    results = {}
    for job in jobs:
        name = f"{label}{job}"
        profiler = ["-m", "pyinstrument", "-o", str(work / f"{name}.pyinstrument.txt")] if profile else []
        results[job] = run_measured(
            [sys.executable, *profiler, str(scripts / f"{job}.py"), "--JOB_NAME", job, *options[job], *common],
            env=env, log=work / f"{name}.log",
        )
        if results[job].returncode:
            raise SystemExit(f"{job} failed (exit {results[job].returncode}); see {work / f'{name}.log'}")
    return results


@dataclass(frozen=True)
class Incremental:
    """One batch of changed API playlists curated into the lake just built and into an empty lake."""

    playlists: int
    into_lake: dict[str, Measured]
    into_empty: dict[str, Measured]

    @property
    def seconds(self) -> tuple[float, float]:
        return (sum(m.seconds for m in self.into_lake.values()), sum(m.seconds for m in self.into_empty.values()))


def land_changed_api_playlists(work: Path, n: int, seed: int) -> tuple[Path, Path]:
    """Land N API playlists, edit each, land them again; returns (the first run alone, the second run alone).

    Both are landing roots holding one run's manifest each (the data files of both runs are there, but only the
    manifest makes a run visible), landed by the real extractor from the simulator's Spotify server.
    """
    from musiclake import landing as contract
    from musiclake_extract.api_extract import ApiOptions, run_api
    from musiclake_extract.client import Credentials
    from musiclake_sim.catalog import generate_catalog
    from musiclake_sim.fake_server import DEMO_USER, FakeSpotify

    both = work / "landing-api"
    with FakeSpotify(catalog=generate_catalog(seed, n, max(2000, 20 * n)), user_playlists=n,
                     followed_playlists=0) as api:
        ids = sorted(p.id for p in api.world.playlists.values() if p.owner == DEMO_USER)[:n]
        env = api.credentials()
        credentials = Credentials(env["SPOTIFY_CLIENT_ID"], env["SPOTIFY_CLIENT_SECRET"], env["SPOTIFY_REFRESH_TOKEN"])

        def extract() -> str:
            options = ApiOptions(landing=str(both), playlists=ids, api_base_url=api.api_base_url,
                                 token_url=api.token_url, backoff=0.01)
            result = run_api(options, credentials)
            if result.status != "complete":
                raise SystemExit(f"the API extraction did not complete: {result.message}")
            return result.run_id

        first = extract()
        for playlist_id in ids:
            api.modify_playlist(playlist_id)
        second = extract()
    views = []
    for keep, name in ((first, "landing-first"), (second, "landing-batch")):
        view = work / name
        shutil.copytree(both, view)
        for manifest in contract.list_manifest_uris(str(view)):
            if contract.run_id_of_manifest_uri(manifest) != keep:
                Path(manifest).unlink()
        views.append(view)
    return views[0], views[1]


def incremental_runs(landing: Path, built: Path, n: int, seed: int, profile: bool = False,
                     code: Path | None = None) -> Incremental:
    """Time a batch of N changed API playlists into the lake under ``built`` (after its full run) and into an
    empty lake.

    The lake under ``built`` first curates the playlists' first version (untimed); the timed run reads a landing
    root holding the batch and every manifest of ``landing`` (processed already: listed, never read).
    """
    work = built / "incremental"
    work.mkdir(parents=True, exist_ok=True)
    first, batch = land_changed_api_playlists(work, n, seed)
    spark_jobs(first, built, profile, code, jobs=("raw_to_curated",), label="seed-")
    with_history = work / "landing-with-history"
    shutil.copytree(batch, with_history)
    shutil.copytree(landing / "_manifests", with_history / "_manifests", dirs_exist_ok=True)
    into_lake = spark_jobs(with_history, built, profile, code, label="incremental-")
    into_empty = spark_jobs(batch, work / "empty", profile, code, label="incremental-")
    return Incremental(n, into_lake, into_empty)


@dataclass(frozen=True)
class Repeated:
    """Wall times of DuckDB and of the jobs in one run (``raw_to_interactions``), run alternately on one size."""

    duckdb: list[float]
    one_run: list[float]

    @property
    def ratio(self) -> float:
        """The jobs' median over DuckDB's median."""
        return median(self.one_run) / median(self.duckdb)


def spread(seconds: list[float]) -> str:
    """``median s (min-max s, n runs)``."""
    return f"{median(seconds):.1f} s ({min(seconds):.1f}-{max(seconds):.1f} s, {len(seconds)} runs)"


def repeated_runs(landing: Path, base: Path, n: int, threads: int, code: Path | None = None) -> Repeated:
    """DuckDB and ``raw_to_interactions`` N times each, alternating, each job run into a new lake."""
    duckdb, one_run = [], []
    for i in range(n):
        out = base / f"repeat-{i}"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        duckdb.append(duckdb_process(landing, out / "duckdb", out / "duckdb.log", threads).seconds)
        one_run.append(spark_jobs(landing, out / "spark", code=code, jobs=(ONE_RUN,))[ONE_RUN].seconds)
        shutil.rmtree(out / "duckdb", ignore_errors=True)
        print(f"  repeat {i + 1}/{n}: duckdb {duckdb[-1]:.1f}s, {ONE_RUN} {one_run[-1]:.1f}s", flush=True)
    return Repeated(duckdb, one_run)


class Row(NamedTuple):
    """One size's figures, as the report gives them (None: not run)."""

    size: int
    files: int
    items: int
    duck: Measured | None
    duck_counts: dict[str, int] | None
    spark: dict[str, Measured] | None
    one_run: Measured | None
    incremental: Incremental | None
    repeated: Repeated | None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="playlists per size, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (Spark runs local[2])")
    parser.add_argument("--only", choices=("duckdb", "spark"), default=None)
    parser.add_argument("--home", type=Path, default=BENCH_HOME / "etl")
    parser.add_argument("--no-write", action="store_true", help="print only, do not append to BENCHMARKS.md")
    parser.add_argument("--profile", action="store_true", help="run the jobs under pyinstrument (report per job)")
    parser.add_argument("--code", type=Path, default=None,
                        help="run the jobs of another checkout (e.g. the commit before a fix) instead of this one")
    parser.add_argument("--incremental", type=int, default=0, metavar="N",
                        help="after each size's Spark run, time a batch of N changed API playlists into that lake "
                             "and into an empty one")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="then run DuckDB and raw_to_interactions N more times each, alternating, and report "
                             "their medians and ranges")
    parser.add_argument("--duckdb-only", nargs=2, metavar=("LANDING", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat > 1 and args.only:
        parser.error("--repeat runs both DuckDB and the jobs: leave out --only")
    if args.duckdb_only:  # the child process measured by the parent
        print(json.dumps(run_duckdb(Path(args.duckdb_only[0]), Path(args.duckdb_only[1]), args.threads)))
        return 0

    rows: list[Row] = []
    for size in (int(s) for s in args.sizes.split(",")):
        base = args.home / f"p{size}"
        mpd, landing = base / "mpd", base / "landing"
        if not (base / "items.txt").exists():
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir(parents=True)
            from musiclake_sim.synthetic_mpd import write_synthetic_mpd

            generated = write_synthetic_mpd(mpd, size, seed=args.seed)
            landed = land(mpd, landing)
            print(f"{size} playlists ({generated.items:,} items) generated in {generated.seconds:.1f}s, landed in "
                  f"{landed.seconds:.1f}s (load {landed.load})", flush=True)
            (base / "items.txt").write_text(str(generated.items))
        files = landing_files(landing)
        items = int((base / "items.txt").read_text())
        stamp = time.strftime("%H%M%S")
        duck = duck_counts = None
        if args.only != "spark":
            out = base / f"duckdb-{stamp}"
            log = base / f"duckdb-{stamp}.log"
            duck = duckdb_process(landing, out, log, args.threads)
            duck_counts = json.loads(log.read_text().strip().splitlines()[-1])
            print(f"{size}: duckdb {duck.seconds:.1f}s, peak {duck.peak_rss_mb:.0f} MB, load {duck.load}; "
                  f"{duck_counts}", flush=True)
        spark = one_run = incremental = None
        if args.only != "duckdb":
            spark = spark_jobs(landing, base / f"spark-{stamp}", args.profile, args.code)
            if ((args.code or REPO) / "glue_jobs" / "v1" / f"{ONE_RUN}.py").exists():  # not in older checkouts
                one_run = spark_jobs(landing, base / f"spark-{stamp}-one-run", args.profile, args.code,
                                     jobs=(ONE_RUN,))[ONE_RUN]
            for job, m in [*spark.items(), *([(ONE_RUN, one_run)] if one_run else [])]:
                print(f"{size}: {job} {m.seconds:.1f}s, peak {m.peak_rss_mb:.0f} MB (PSS {m.peak_pss_mb:.0f} MB), "
                      f"load {m.load}", flush=True)
            if args.incremental:
                incremental = incremental_runs(landing, base / f"spark-{stamp}", args.incremental, args.seed,
                                               args.profile, args.code)
                into_lake, into_empty = incremental.seconds
                print(f"{size}: incremental {args.incremental} API playlists: {into_lake:.1f}s into this lake, "
                      f"{into_empty:.1f}s into an empty lake ({into_lake / into_empty:.2f}x)", flush=True)
        repeated = None
        if args.repeat > 1:
            print(f"{size}: DuckDB and {ONE_RUN} {args.repeat} times each, alternating", flush=True)
            repeated = repeated_runs(landing, base / f"spark-{stamp}", args.repeat, args.threads, args.code)
            print(f"{size}: duckdb {spread(repeated.duckdb)}, {ONE_RUN} {spread(repeated.one_run)}: "
                  f"{repeated.ratio:.1f}x", flush=True)
        rows.append(Row(size, len(files), items, duck, duck_counts, spark, one_run, incremental, repeated))

    body = _report(rows)
    title = "ETL: raw_to_curated + build_interactions vs DuckDB"
    if args.code:
        title += f" (jobs and library from {args.code})"
    append_section(title, body, write=not args.no_write)
    return 0


def _report(rows: list[Row]) -> str:
    with_incremental = any(row.incremental for row in rows)
    with_repeats = any(row.repeated for row in rows)
    lines = []
    for size, _files, items, duck, _counts, spark, one_run, incremental, repeated in rows:
        cells = [f"{size:,}", f"{items:,}" if items else "-"]
        spark_total = sum(m.seconds for m in spark.values()) if spark else None
        if spark:
            r2c, bi = spark["raw_to_curated"], spark["build_interactions"]
            cells += [f"{m.seconds:.1f} s ({m.peak_rss_mb:,.0f} MB, PSS {m.peak_pss_mb:,.0f} MB, load {m.load})"
                      for m in (r2c, bi)]
            cells += [f"{spark_total:.1f} s", f"{items / spark_total:,.0f}" if items else "-"]
        else:
            cells += ["-"] * 4
        if duck:
            cells += [f"{duck.seconds:.1f} s ({duck.peak_rss_mb:,.0f} MB, load {duck.load})",
                      f"{items / duck.seconds:,.0f}"]
        else:
            cells += ["-", "-"]
        cells.append(f"{spark_total / duck.seconds:.1f}x" if spark and duck else "-")
        if one_run:
            cells.append(f"{one_run.seconds:.1f} s ({one_run.peak_rss_mb:,.0f} MB, load {one_run.load})")
            cells.append(f"{one_run.seconds / duck.seconds:.1f}x" if duck else "-")
        else:
            cells += ["-", "-"]
        if with_incremental:
            cells.append(_incremental_cell(incremental) if incremental else "-")
        if with_repeats:
            cells.append(_repeated_cell(repeated) if repeated else "-")
        lines.append(cells)
    header = ["playlists", "rows (items)", "raw_to_curated (peak RSS, PSS, load)",
              "build_interactions (peak RSS, PSS, load)",
              "musiclake total", "musiclake rows/s", "DuckDB (peak RSS, load)", "DuckDB rows/s",
              "musiclake / DuckDB", "raw_to_interactions: both in one run (peak RSS, load)", "one run / DuckDB"]
    notes = ("\n\nWall time of each process from start to exit (JVM start-up included for the jobs), peak RSS of its "
             "process tree (each process's resident set summed, shared pages once per sharer) and its peak PSS "
             "(shared pages split between sharers: the real footprint), load average before-after. DuckDB does the "
             "flatten + dedupe + id mapping into Parquet only (no quarantine, checks, Delta MERGE or catalog). "
             "raw_to_interactions runs the same two jobs one after the other in one process (one Spark session), "
             "into a lake of its own.")
    if with_incremental:
        header.append("incremental batch: into this lake / into an empty lake (ratio)")
        notes += (" Incremental: raw_to_curated + build_interactions on a batch of N changed Spotify API playlists "
                  "(landed by the extractor from the simulator), into the lake just built and into an empty lake; "
                  "the aim is a ratio of at most 2x.")
    if with_repeats:
        header.append("repeated, alternating: DuckDB / raw_to_interactions, median (range), ratio of medians")
        notes += (" Repeated: after those, DuckDB and raw_to_interactions ran N more times each, one after the other, "
                  "each job run into a new lake; their medians and ranges, and the ratio of the medians.")
    return table(header, lines) + notes


def _repeated_cell(repeated: Repeated) -> str:
    return f"{spread(repeated.duckdb)} / {spread(repeated.one_run)}: {repeated.ratio:.1f}x"


def _incremental_cell(incremental: Incremental) -> str:
    into_lake, into_empty = incremental.seconds
    load = incremental.into_lake["raw_to_curated"].load
    return (f"{incremental.playlists:,} playlists: {into_lake:.1f} s / {into_empty:.1f} s "
            f"({into_lake / into_empty:.2f}x, load {load})")


if __name__ == "__main__":
    sys.exit(main())
