"""``musiclake serve``, ``similar`` and ``tables``; the JVM-free handler of ``musiclake recommend``.

Examples
--------
``musiclake serve --port 8000``
    The HTTP API on http://127.0.0.1:8000 (OpenAPI docs at /docs), over the latest model of ``--lake_path``.
``musiclake similar --track 4uLU6hMCjMI75M1A2tKUQC --k 10``
    The tracks most similar to a track (cosine of the ALS item factors).

:func:`run_recommend` answers ``musiclake recommend`` (parser in :mod:`musiclake.recommend.command`) and
:func:`run_tables` ``musiclake tables``, read by delta-rs and numpy instead of Spark: a second instead of a JVM
start. The batch job's Spark path (:mod:`musiclake.recommend.serve`) is the reference they are tested against.
Heavy imports stay inside the handlers: every ``musiclake`` command imports this module to build its parser.
"""

from __future__ import annotations

import argparse
import sys

SERVE, SIMILAR, TABLES = "serve", "similar", "tables"
_EXTRA_HINT = "pip install 'musiclake[serve]'"
JOB_NAME_WIDTH = 20  # columns of the job name in the job runs `tables` lists, at least


def positive(text: str) -> int:
    """An argparse type: an int of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``serve``, ``similar`` and ``tables`` to the ``musiclake`` parser."""
    serve = subparsers.add_parser(
        SERVE,
        parents=[common],
        help="the HTTP API: recommendations, fold-in, similar tracks (no Spark)",
        description="Serve the latest ALS model of the lake over HTTP (JSON; OpenAPI docs at /docs). A newly "
        "trained model is picked up without a restart. One process: the model is held in memory once.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    serve.add_argument("--model", metavar="URI", help="serve this model folder models/als/v=... and never swap")
    serve.add_argument("--check_interval", "--check-interval", dest="check_interval", type=float, default=30.0,
                       metavar="SECONDS", help="least seconds between checks for a new model (default: %(default)s)")
    serve.add_argument("--max_batch", "--max-batch", dest="max_batch", type=positive, default=64,
                       help="most concurrent requests scored by one matrix product (default: %(default)s)")
    serve.add_argument("--blas_threads", "--blas-threads", dest="blas_threads", type=positive, default=1,
                       help="threads of one matrix product (default: %(default)s: the other core parses requests)")
    serve.add_argument("--log_level", "--log-level", dest="log_level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--no_access_log", "--no-access-log", dest="access_log", action="store_false",
                       help="do not log every request")
    serve.set_defaults(handler=run_serve)

    similar = subparsers.add_parser(
        SIMILAR,
        parents=[common],
        help="tracks similar to a track (cosine of the ALS item factors)",
        description="The tracks most similar to a track by cosine similarity of the latest model's item factors, "
        "among the tracks in at least two playlists (as in the similar_tracks table), for any --k.",
    )
    similar.add_argument("--track", required=True, metavar="ID",
                         help="a Spotify track id, spotify:track: URI or open.spotify.com link")
    similar.add_argument("--k", type=positive, default=20, help="number of tracks (default: %(default)s)")
    similar.add_argument("--model", metavar="URI", help="a model folder models/als/v=... (default: the latest)")
    similar.set_defaults(handler=run_similar)

    tables = subparsers.add_parser(TABLES, parents=[common], help="row counts and versions of the lake's tables")
    tables.add_argument("--runs", type=int, default=8, help="latest job runs to show (default 8)")
    tables.set_defaults(handler=run_tables)


def run_serve(args: argparse.Namespace) -> int:
    """Load the model, then run the API under uvicorn until interrupted."""
    try:
        import uvicorn

        from musiclake.serve.app import create_app
        from musiclake.serve.scoring import set_blas_threads
    except ImportError as error:
        return _missing_extra(SERVE, error)
    set_blas_threads(args.blas_threads)
    app = create_app(args.lake_path, model_path=args.model, check_interval=args.check_interval,
                     max_batch=args.max_batch)
    model = app.state.holder.current
    if model is None:
        try:
            app.state.holder.load()
        except Exception as error:  # NoModelError: the message says how to train one
            print(f"musiclake serve: {error}", file=sys.stderr)
            return 1
        model = app.state.holder.current
    print(f"serving ALS model v={model.version} ({model.playlists.size} playlists x {model.tracks.size} tracks) on "
          f"http://{args.host}:{args.port}  (docs: /docs)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log,
                workers=1)
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    """``musiclake recommend`` without Spark: the list of a playlist or of seed tracks, with names."""
    try:
        from musiclake.serve import recommend
        from musiclake.serve.load import load_model
    except ImportError as error:
        return _missing_extra("recommend", error)
    try:
        model = load_model(args.lake_path, args.model)
    except FileNotFoundError as exc:
        print(f"musiclake recommend: {exc}", file=sys.stderr)
        return 1
    if args.playlist is not None:
        served = recommend.for_playlist(model, args.playlist, args.k)
    else:
        served = recommend.for_tracks(model, recommend.parse_track_ids(args.tracks), args.k)
    print(recommend.format_served(recommend.with_names(model, served)))
    return 0


def run_similar(args: argparse.Namespace) -> int:
    """``musiclake similar``: a track's most similar tracks, with names."""
    try:
        from musiclake.serve import recommend
        from musiclake.serve.load import load_model
    except ImportError as error:
        return _missing_extra(SIMILAR, error)
    try:
        model = load_model(args.lake_path, args.model)
        (track,) = recommend.parse_track_references([args.track]) or [""]
        served = recommend.similar(model, track, args.k)
    except (FileNotFoundError, recommend.UnknownTrackError) as exc:
        print(f"musiclake similar: {exc}", file=sys.stderr)
        return 1
    print(recommend.format_served(served))
    return 0


def run_tables(args: argparse.Namespace) -> int:
    """``musiclake tables`` without Spark: each table's rows, Delta version and partitions, and the job runs."""
    try:
        from musiclake.serve import lakeio, layout
    except ImportError as error:
        return _missing_extra("tables", error)
    print(f"{'table':<16}{'rows':>10}{'version':>9}  partitioned by")
    for name, partitions in layout.TABLE_PARTITIONS.items():
        table = lakeio.open_delta(layout.table_path(args.lake_path, name))
        if table is None:
            print(f"{name:<16}{'-':>10}{'-':>9}  (not created yet)")
            continue
        print(f"{name:<16}{lakeio.delta_rows(table):>10}{table.version():>9}  {', '.join(partitions) or '-'}")
    runs_table = lakeio.open_delta(layout.table_path(args.lake_path, layout.JOB_RUNS))
    if runs_table is not None:
        print("\nlatest job runs:")
        columns = ["finished_at", "job_name", "status", "records_read", "records_written", "records_quarantined",
                   "message"]
        rows = lakeio.read_delta(runs_table, columns).sort_by([("finished_at", "descending")])
        listed = rows.slice(0, args.runs).to_pylist()  # small: --runs rows
        # names of a job's steps (raw_to_interactions/build_interactions) are longer than the usual 20 columns
        width = max([JOB_NAME_WIDTH, *(len(r["job_name"]) + 2 for r in listed)])
        for r in listed:
            written = sum(value or 0 for _, value in (r["records_written"] or []))
            print(f"  {r['finished_at']:%Y-%m-%d %H:%M:%S}  {r['job_name']:<{width}}{r['status']:<10}"
                  f"read {_count(r['records_read']):>8}  written {written:>8}  "
                  f"quarantined {_count(r['records_quarantined']):>5}  {r['message'] or ''}")
    return 0


def _count(value: int | None) -> int | str:
    return "-" if value is None else value


def _missing_extra(command: str, error: ImportError) -> int:
    print(f"error: musiclake {command} needs the 'serve' extra ({error.name} is missing): {_EXTRA_HINT}",
          file=sys.stderr)
    return 2
