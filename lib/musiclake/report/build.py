"""Build the HTML report: run the analytics queries through the local engine, chart them, write one page.

Every number in the report comes from a packaged query (``lib/musiclake/sql/<name>.sql``, the same files
Athena runs) executed by :class:`musiclake.query.engine.LocalEngine` on the lake: no Spark is started. A section
whose tables are missing (the job that writes them has not run yet) or empty says so instead of failing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import musiclake
from musiclake.report import charts
from musiclake.report import html as h

log = logging.getLogger("musiclake.report")

REPORT_FILE = "report.html"
LATEST_RUNS = 30  # job runs / landing runs charted and listed (the latest); the queries return them all
Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class QueryData:
    """The rows of one query, or why there are none (``missing``: a table the query needs is not in the lake)."""

    rows: Rows
    missing: str | None = None


@dataclass(frozen=True)
class Section:
    """One report section: the queries it reads, the jobs that fill them (``produced_by``), how it renders."""

    key: str
    title: str
    note: str
    queries: tuple[str, ...]
    produced_by: str
    render: Callable[[dict[str, Rows]], str]
    optional: tuple[str, ...] = ()  # queries whose rows the section shows when there are any (never "no data")


def _chart(key: str, figure: Any, alt: str, caption: str = "") -> str:
    return h.figure(key, charts.to_png_base64(figure), alt, caption)


def _playlist_lengths(data: dict[str, Rows]) -> str:
    rows = data["playlist_length_distribution"]
    total = sum(r["playlists"] for r in rows)
    return _chart("playlist-lengths", charts.playlist_length_chart(rows), "playlists per length bucket",
                  f"{total:,} playlists, in buckets of 10 tracks") + h.collapsible(
        "table", h.table(rows, [("length_from", "from", h.integer), ("length_to", "to", h.integer),
                                ("playlists", "playlists", h.integer), ("share", "share", h.percent)],
                         "table-playlist-lengths"))


def _top(kind: str, label: str, extra: Sequence[tuple[str, str, h.Format]]) -> Callable[[dict[str, Rows]], str]:
    def render(data: dict[str, Rows]) -> str:
        rows = data[f"top_{kind}s"]
        columns = [("ranking", "#", h.integer), (label, kind, h.esc), *extra,
                   ("playlists", "playlists", h.integer), ("plays", "plays", h.integer)]
        return _chart(f"top-{kind}s", charts.top_chart(rows, label, kind), f"top {kind}s by playlists") + \
            h.collapsible(f"top {len(rows)} {kind}s", h.table(rows, columns, f"table-top-{kind}s"))

    return render


def _long_tail(data: dict[str, Rows]) -> str:
    rows = data["popularity_long_tail"]
    share = {r["top_percent"]: r for r in rows}
    caption = "; ".join(
        f"the top {p}% of tracks ({share[p]['tracks']:,}) get {share[p]['share_of_plays']:.1%} of plays"
        for p in (1, 10) if p in share
    )
    return _chart("long-tail", charts.long_tail_chart(rows), "cumulative share of plays by track popularity",
                  caption) + h.table(
        rows, [("top_percent", "top % of tracks", h.integer), ("tracks", "tracks", h.integer),
               ("plays", "plays", h.integer), ("share_of_plays", "share of plays", h.percent)], "table-long-tail")


def _artist_diversity(data: dict[str, Rows]) -> str:
    rows = data["artist_diversity"]
    mean = charts.mean_diversity(rows)
    playlists = sum(r["playlists"] for r in rows)
    caption = f"mean diversity {mean:.2f} over {playlists:,} playlists" if mean is not None else ""
    return _chart("artist-diversity", charts.artist_diversity_chart(rows), "playlists by artist diversity",
                  caption) + h.collapsible(
        "table", h.table(rows, [("diversity_from", "from", h.decimal3), ("diversity_to", "to", h.decimal3),
                                ("playlists", "playlists", h.integer), ("share", "share", h.percent),
                                ("avg_tracks", "mean tracks", h.decimal3), ("avg_artists", "mean artists", h.decimal3)],
                         "table-artist-diversity"))


def _latest(rows: Rows, what: str) -> tuple[Rows, str]:
    shown = rows[-LATEST_RUNS:]
    return shown, (f"the latest {len(shown)} of {len(rows):,} {what}" if len(shown) < len(rows) else "")


def _catalog_growth(data: dict[str, Rows]) -> str:
    rows, caption = _latest(data["catalog_growth"], "landing runs")
    return _chart("catalog-growth", charts.catalog_growth_chart(rows), "catalog size after each ingestion run",
                  caption) + \
        h.table(rows, [("run_order", "#", h.integer), ("run_id", "landing run", h.esc), ("source", "source", h.esc),
                       ("processed_at", "curated at (UTC)", h.timestamp), ("records", "records", h.integer),
                       ("tracks", "+tracks", h.integer), ("artists", "+artists", h.integer),
                       ("albums", "+albums", h.integer), ("playlists", "+playlists", h.integer),
                       ("total_tracks", "tracks", h.integer), ("total_playlists", "playlists", h.integer)],
                "table-catalog-growth")


def _pipeline_health(data: dict[str, Rows]) -> str:
    everything = data["pipeline_health"]
    rows, latest = _latest(everything, "job runs")
    failed = sum(r["status"] == "failed" for r in everything)
    caption = f"{len(everything):,} job runs, {failed or 'none'} failed" + (f"; {latest}" if latest else "")
    return _chart("pipeline-health", charts.pipeline_health_chart(rows), "records per job run", caption) + \
        h.table(rows, [("run_order", "#", h.integer), ("job_name", "job", h.esc), ("status", "status", h.esc),
                       ("started_at", "started (UTC)", h.timestamp), ("finished_at", "finished (UTC)", h.timestamp),
                       ("landing_runs", "landing runs", h.integer), ("records_read", "read", h.integer),
                       ("records_written", "written", h.integer), ("records_quarantined", "quarantined", h.integer)],
                "table-pipeline-health")


def _recommender_quality(data: dict[str, Rows]) -> str:
    rows = data["recommender_quality"]
    version = rows[0]["model_version"]
    return _chart("recommender-quality", charts.recommender_quality_chart(rows), "ALS against popularity per metric",
                  f"model {version}, test holdout of {rows[0]['n_playlists']:,} playlists") + h.table(
        rows, [("metric", "metric", h.esc), ("k", "k", h.integer), ("als", "ALS", h.decimal3),
               ("popularity", "popularity", h.decimal3), ("als_over_popularity", "ALS / popularity", h.decimal3),
               ("higher_is_better", "higher is better", h.yes_no)], "table-recommender-quality") + \
        _new_playlists(data.get("new_playlist_quality", []))


NEW_PLAYLIST_METRICS = (("r_precision", "R-precision"), ("ndcg_at_500", "NDCG@500"), ("ndcg_at_10", "NDCG@10"),
                        ("clicks", "clicks"))


def _new_playlists(rows: Rows) -> str:
    """The RecSys-2018 categories (0/1/5/10/25/100 seed tracks), musiclake's answer against popularity."""
    heading = "<h3>New playlists (RecSys Challenge 2018 protocol)</h3>"
    if not rows:
        return heading + '<p class="note">Not evaluated for this model: train_als runs the protocol with ' \
            "--new_playlist_eval true (by default from 1,000 playlists).</p>"
    shown = dict(NEW_PLAYLIST_METRICS)
    categories: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        entry = categories.setdefault((row["seed_order"], row["seeds"]), {
            "seeds": row["seeds"], "seed_order": row["seed_order"], "answer": row["answer"],
            "n_playlists": row["n_playlists"]})
        if row["metric"] in shown:
            entry[f"{row['metric']}_ours"], entry[f"{row['metric']}_pop"] = row["ours"], row["popularity"]
    columns: list[tuple[str, str, h.Format]] = [
        ("seeds", "seed tracks", h.integer), ("seed_order", "seeds taken", h.esc),
        ("n_playlists", "playlists", h.integer), ("answer", "ours", h.esc)]
    for metric, label in NEW_PLAYLIST_METRICS:
        columns += [(f"{metric}_ours", f"{label} ours", h.decimal3), (f"{metric}_pop", f"{label} popularity",
                                                                        h.decimal3)]
    note = ("Whole playlists held out of the evaluated model's training; 500 tracks ranked per playlist, seeds "
            "excluded. ALS folds the seeds into the trained item factors; with 0 seeds the title cold start answers "
            "(tracks of training playlists whose names share the title's tokens, then popularity). Clicks: lower is "
            "better.")
    return heading + f'<p class="note">{h.esc(note)}</p>' + h.table(
        [categories[key] for key in sorted(categories)], columns, "table-new-playlists")


def _coverage_bias(data: dict[str, Rows]) -> str:
    row = data["recommendation_coverage_bias"][0]
    caption = (f"model {row['model_version']}: {row['recommendations']:,} recommendations for {row['playlists']:,} "
               f"playlists (k = {row['k']}); a recommended track is on average {row['popularity_bias']:.2f}x as "
               "popular as a catalog track")
    return _chart("coverage-bias", charts.coverage_bias_chart(row), "catalog coverage and popularity bias",
                  caption) + h.table(
        [row], [("recommended_tracks", "tracks recommended", h.integer), ("catalog_tracks", "catalog", h.integer),
                ("catalog_coverage", "coverage", h.percent),
                ("popularity_baseline_coverage", "baseline coverage", h.percent),
                ("avg_popularity_recommended", "mean popularity (recs)", h.decimal3),
                ("avg_popularity_interactions", "mean popularity (in playlists)", h.decimal3),
                ("avg_popularity_catalog", "mean popularity (catalog)", h.decimal3),
                ("popularity_bias", "bias", h.decimal3),
                ("head_share_recommendations", "head share (recs)", h.percent),
                ("head_share_interactions", "head share (interactions)", h.percent)], "table-coverage-bias")


SECTIONS: tuple[Section, ...] = (
    Section("playlist-lengths", "Playlist length distribution",
            "How many tracks playlists hold (all sources, latest version of each playlist).",
            ("playlist_length_distribution",), "raw_to_curated job", _playlist_lengths),
    Section("top-tracks", "Top tracks", "The tracks found in the most playlists.", ("top_tracks",),
            "raw_to_curated job", _top("track", "track_name", [("artist_name", "artist", h.esc)])),
    Section("top-artists", "Top artists", "Primary artists by the playlists containing any of their tracks.",
            ("top_artists",), "raw_to_curated job", _top("artist", "artist_name", [("tracks", "tracks", h.integer)])),
    Section("top-albums", "Top albums", "Albums by the playlists containing any of their tracks.", ("top_albums",),
            "raw_to_curated job", _top("album", "album_name", [("artist_name", "artist", h.esc)])),
    Section("long-tail", "Popularity long tail",
            "The share of all plays (track appearances in playlists) that goes to the most played tracks.",
            ("popularity_long_tail",), "raw_to_curated job", _long_tail),
    Section("artist-diversity", "Artist diversity per playlist",
            "Distinct artists divided by tracks, per playlist: low values are single-artist playlists.",
            ("artist_diversity",), "raw_to_curated job", _artist_diversity),
    Section("catalog-growth", "Catalog growth per ingestion run",
            "Catalog size after each landing run curated; an entity counts for the latest run that observed it.",
            ("catalog_growth",), "raw_to_curated job", _catalog_growth),
    Section("pipeline-health", "Pipeline health",
            "Records each job run read, wrote (inserted or updated) and quarantined, from job_runs.",
            ("pipeline_health",), "raw_to_curated job", _pipeline_health),
    Section("recommender-quality", "Recommender quality",
            "ALS against the popularity baseline on the test holdout of the latest model, and on new playlists "
            "by number of seed tracks (evaluations).",
            ("recommender_quality",), "train_als job", _recommender_quality, optional=("new_playlist_quality",)),
    Section("coverage-bias", "Coverage and popularity bias of the recommendations",
            "How much of the catalog the recommendations reach, and how much they favour already popular tracks.",
            ("recommendation_coverage_bias",), "build_interactions and train_als jobs", _coverage_bias),
)
CHARTS: tuple[str, ...] = tuple(section.key for section in SECTIONS)  # one chart per section, id chart-<key>


def tables_read(sql: str) -> list[str]:
    """The lake tables an Athena-dialect query reads (its CTEs left out), sorted."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="trino")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    return sorted({t.name.lower() for t in tree.find_all(exp.Table) if isinstance(t.this, exp.Identifier)} - ctes)


def run_queries(engine: Any, names: Sequence[str]) -> dict[str, QueryData]:
    """Run the packaged queries ``names`` on ``engine``; a query on a table the lake lacks gives ``missing``.

    Parameters
    ----------
    engine
        A :class:`musiclake.query.engine.LocalEngine` (``tables()``, and ``execute(sql) -> pyarrow.Table``).
    names
        Query names (``lib/musiclake/sql/<name>.sql``).
    """
    from musiclake.query.sql_files import load_query

    available = set(engine.tables())
    results: dict[str, QueryData] = {}
    for name in names:
        sql = load_query(name)
        if absent := [table for table in tables_read(sql) if table not in available]:
            results[name] = QueryData([], missing=f"the lake has no table {', '.join(absent)}")
            log.info("%s: %s", name, results[name].missing)
            continue
        started = time.monotonic()
        rows = engine.execute(sql).to_pylist()  # small: every query aggregates or limits
        log.info("%s: %d rows in %.2fs", name, len(rows), time.monotonic() - started)
        results[name] = QueryData(rows)
    return results


def _is_empty(name: str, data: QueryData) -> bool:
    if not data.rows:
        return True
    return name == "recommendation_coverage_bias" and data.rows[0].get("model_version") is None


def render_section(section: Section, results: dict[str, QueryData]) -> str:
    """The section's HTML: its chart and table, or a "no data yet" note naming the job to run."""
    for name in section.queries:
        data = results[name]
        if data.missing or _is_empty(name, data):
            why = data.missing or f"the query {name} returned no rows"
            return h.section(section.key, section.title, section.note,
                             h.no_data(section.key, f"{why}; run the {section.produced_by} first."))
    shown = (*section.queries, *(name for name in section.optional if name in results))
    body = section.render({name: results[name].rows for name in shown})
    return h.section(section.key, section.title, section.note, body)


def _summary(results: dict[str, QueryData]) -> str:
    items: list[tuple[str, str]] = []
    growth = results["catalog_growth"].rows
    if growth:
        last = growth[-1]
        items += [(f"{last['total_playlists']:,}", "playlists"), (f"{last['total_tracks']:,}", "tracks"),
                  (f"{last['total_artists']:,}", "artists"), (f"{last['total_albums']:,}", "albums"),
                  (f"{len(growth)}", "landing runs curated")]
    if runs := results["pipeline_health"].rows:
        items.append((f"{len(runs)}", "job runs"))
    quality = {r["metric"]: r for r in results["recommender_quality"].rows}
    if (ndcg := quality.get("ndcg_at_10")) and ndcg["als"] is not None and ndcg["popularity"] is not None:
        items.append((f"{ndcg['als']:.3f} vs {ndcg['popularity']:.3f}", "NDCG@10, ALS vs popularity"))
    return h.cards(items) if items else ""


def build_report(lake_path: str, out_dir: str | Path, *, title: str = "musiclake report") -> Path:
    """Query the lake, render every section, and write ``<out_dir>/report.html``.

    Parameters
    ----------
    lake_path
        Lake root (local folder or ``s3://bucket/prefix``) with the Delta tables the jobs wrote.
    out_dir
        Folder to write to (created if missing); an existing report there is replaced.

    Returns
    -------
    The path of the written report.

    Raises
    ------
    musiclake.query.errors.LakeNotFoundError
        If there is no Delta table under ``lake_path``.
    """
    from musiclake.query.engine import LocalEngine

    names = tuple(dict.fromkeys(name for section in SECTIONS for name in (*section.queries, *section.optional)))
    started = time.monotonic()
    with LocalEngine(lake_path) as engine:
        results = run_queries(engine, names)
    sections = []
    for section in SECTIONS:
        sections.append((section.key, section.title, render_section(section, results)))
        log.info("rendered section %s", section.key)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"lake {lake_path} · generated {generated} · musiclake {musiclake.__version__}"
    document = h.page(title, subtitle, sections, _summary(results))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILE
    path.write_text(document, encoding="utf-8")
    log.info("wrote %s (%.0f KiB) in %.1fs", path, path.stat().st_size / 1024, time.monotonic() - started)
    return path
