"""The report's charts: query rows in, a matplotlib figure out, embedded as a base64 PNG.

Each ``*_chart`` function takes the rows of one (or two) analytics queries (``list[dict]`` as
``pyarrow.Table.to_pylist`` gives them, see ``lib/musiclake/sql``) and returns a :class:`matplotlib.figure.Figure`.
Figures are built without ``pyplot`` (no global state, no GUI backend), so rendering is safe in any process.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

Rows = Sequence[dict[str, Any]]

ALS_COLOR = "#1db954"  # the recommender
BASELINE_COLOR = "#8c8c8c"  # the popularity baseline / the catalog
PALETTE = ("#1db954", "#3b82f6", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6")
DPI = 100
TOP_BARS = 15  # bars in the top-N charts (the tables list the whole top 25)
LABEL_CHARS = 38
LABELLED_RUNS = 12  # up to this many runs get a tick label each


def to_png_base64(figure: Figure) -> str:
    """The figure as a PNG, base64-encoded (for ``<img src="data:image/png;base64,...">``)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float = 9.0, height: float = 4.2) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure


def _style(axes: Any) -> None:
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    axes.set_axisbelow(True)


def _thousands(value: float, _position: int | None = None) -> str:
    return f"{value:,.0f}"


def _short(text: str | None, limit: int = LABEL_CHARS) -> str:
    text = text or "?"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def playlist_length_chart(rows: Rows) -> Figure:
    """Bars: playlists per length bucket (``playlist_length_distribution``)."""
    figure = _figure()
    axes = figure.add_subplot()
    starts = [r["length_from"] for r in rows]
    width = (rows[0]["length_to"] - rows[0]["length_from"] + 1) if rows else 10
    axes.bar(starts, [r["playlists"] for r in rows], width=width * 0.9, align="edge", color=PALETTE[1])
    axes.set_xlabel("tracks in the playlist")
    axes.set_ylabel("playlists")
    axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
    _style(axes)
    return figure


def top_chart(rows: Rows, label: str, title: str) -> Figure:
    """Horizontal bars: playlists containing each of the top entries (``top_tracks``/``_artists``/``_albums``)."""
    shown = list(rows)[:TOP_BARS]
    figure = _figure(9.0, 0.32 * len(shown) + 1.2)
    axes = figure.add_subplot()
    labels = [f"{r['ranking']}. {_short(r.get(label))}" for r in shown]
    values = [r["playlists"] for r in shown]
    axes.barh(range(len(shown)), values, color=PALETTE[0])
    axes.set_yticks(range(len(shown)), labels)
    axes.invert_yaxis()
    axes.set_xlabel(f"playlists containing the {title}")
    axes.xaxis.set_major_formatter(FuncFormatter(_thousands))
    for index, value in enumerate(values):
        axes.text(value, index, f" {value:,}", va="center", fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def long_tail_chart(rows: Rows) -> Figure:
    """Cumulative share of plays against the share of tracks, most played first (``popularity_long_tail``)."""
    figure = _figure()
    axes = figure.add_subplot()
    xs = [0.0] + [r["top_percent"] / 100 for r in rows]
    ys = [0.0] + [r["share_of_plays"] for r in rows]
    axes.plot(xs, ys, marker="o", color=PALETTE[0], label="most played tracks first")
    axes.plot([0, 1], [0, 1], linestyle="--", color=BASELINE_COLOR, label="every track equally popular")
    for r in rows:
        if r["top_percent"] in (1, 10):
            axes.annotate(
                f"top {r['top_percent']}%: {r['share_of_plays']:.0%} of plays",
                (r["top_percent"] / 100, r["share_of_plays"]), textcoords="offset points", xytext=(12, -14),
                fontsize=9, arrowprops={"arrowstyle": "-", "color": "#666666"},
            )
    axes.set_xlabel("share of tracks (most played first)")
    axes.set_ylabel("share of plays")
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.legend(loc="lower right", frameon=False)
    _style(axes)
    return figure


def artist_diversity_chart(rows: Rows) -> Figure:
    """Bars: share of playlists per diversity bucket (distinct artists / tracks, ``artist_diversity``)."""
    figure = _figure()
    axes = figure.add_subplot()
    axes.bar([r["diversity_from"] for r in rows], [r["share"] for r in rows], width=0.09, align="edge",
             color=PALETTE[4])
    mean = mean_diversity(rows)
    if mean is not None:
        axes.axvline(mean, color="#333333", linestyle="--", linewidth=1)
        axes.text(mean, axes.get_ylim()[1] * 0.95, f" mean {mean:.2f}", fontsize=9, va="top")
    axes.set_xlim(0, 1)
    axes.set_xlabel("distinct artists / tracks in the playlist (1 = every track by another artist)")
    axes.set_ylabel("share of playlists")
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    _style(axes)
    return figure


def mean_diversity(rows: Rows) -> float | None:
    """Mean artist diversity over all playlists, from the per-bucket means and counts."""
    total = sum(r["playlists"] for r in rows)
    if not total:
        return None
    return sum(r["avg_diversity"] * r["playlists"] for r in rows) / total


def catalog_growth_chart(rows: Rows) -> Figure:
    """Lines: catalog size (running totals) after each ingestion run (``catalog_growth``)."""
    figure = _figure()
    axes = figure.add_subplot()
    runs = [r["run_order"] for r in rows]
    for color, entity in zip(PALETTE, ("tracks", "playlists", "albums", "artists"), strict=False):
        axes.plot(runs, [r[f"total_{entity}"] for r in rows], marker="o", color=color, label=entity)
    if len(rows) <= LABELLED_RUNS:
        axes.set_xticks(runs, [f"{r['run_order']}\n{r['source']}" for r in rows])
    axes.set_xlabel("landing run (in the order curated)")
    axes.set_ylabel("entities in the catalog")
    axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
    axes.set_ylim(bottom=0)
    axes.legend(frameon=False)
    _style(axes)
    return figure


def pipeline_health_chart(rows: Rows) -> Figure:
    """Grouped bars: records read, written and quarantined per job run (``pipeline_health``)."""
    figure = _figure(9.0, 4.6)
    axes = figure.add_subplot()
    series = (("records_read", "read", PALETTE[1]), ("records_written", "written", PALETTE[0]),
              ("records_quarantined", "quarantined", PALETTE[3]))
    width = 0.27
    positions = list(range(len(rows)))
    for offset, (column, label, color) in enumerate(series):
        xs = [p + (offset - 1) * width for p in positions]
        values = [r[column] or 0 for r in rows]
        axes.bar(xs, values, width=width, color=color, label=label)
    labels = [f"{r['run_order']} {r['job_name']}" + ("" if r["status"] == "succeeded" else f" ({r['status']})")
              for r in rows]
    crowded = len(rows) > 4
    axes.set_xticks(positions, labels, rotation=60 if crowded else 0, ha="right" if crowded else "center",
                    fontsize=7 if len(rows) > LABELLED_RUNS else None)
    axes.set_ylabel("records")
    axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
    axes.legend(frameon=False)
    _style(axes)
    return figure


def recommender_quality_chart(rows: Rows) -> Figure:
    """Grouped bars: ALS against the popularity baseline per metric; clicks (lower is better) on its own axes."""
    figure = _figure(10.0, 4.4)
    higher = [r for r in rows if r["higher_is_better"]]
    lower = [r for r in rows if not r["higher_is_better"]]
    grid = figure.add_gridspec(1, 4)
    panels = [(figure.add_subplot(grid[0, :3] if lower else grid[0, :]), higher, "higher is better")]
    if lower:
        panels.append((figure.add_subplot(grid[0, 3]), lower, "lower is better"))
    for axes, subset, note in panels:
        positions = list(range(len(subset)))
        als = [r["als"] or 0.0 for r in subset]
        baseline = [r["popularity"] or 0.0 for r in subset]
        axes.bar([p - 0.2 for p in positions], als, width=0.4, color=ALS_COLOR, label="ALS")
        axes.bar([p + 0.2 for p in positions], baseline, width=0.4, color=BASELINE_COLOR, label="popularity")
        axes.set_xticks(positions, [r["metric"] for r in subset], rotation=30, ha="right")
        axes.set_title(note, fontsize=10)
        _style(axes)
    panels[0][0].legend(frameon=False)
    return figure


def coverage_bias_chart(row: dict[str, Any]) -> Figure:
    """Three panels: catalog coverage, mean popularity and head share of the recommendations against references.

    Input: the one row of ``recommendation_coverage_bias``.
    """
    figure = _figure(10.0, 3.8)
    panels = (
        ("catalog coverage", True,
         (("ALS", row["catalog_coverage"]), ("popularity\nbaseline", row["popularity_baseline_coverage"]))),
        ("mean popularity of a track\n(playlists containing it)", False,
         (("recommended", row["avg_popularity_recommended"]), ("in playlists", row["avg_popularity_interactions"]),
          ("catalog", row["avg_popularity_catalog"]))),
        ("share going to the 10% most\npopular tracks", True,
         (("recommendations", row["head_share_recommendations"]), ("interactions", row["head_share_interactions"]))),
    )
    for index, (title, is_share, bars) in enumerate(panels):
        axes = figure.add_subplot(1, 3, index + 1)
        values = [value or 0.0 for _label, value in bars]
        positions = list(range(len(bars)))
        colors = [ALS_COLOR, *[BASELINE_COLOR] * (len(bars) - 1)]
        axes.bar(positions, values, color=colors, width=0.6)
        axes.set_xticks(positions, [label for label, _value in bars])
        axes.set_title(title, fontsize=10)
        for x, value in zip(positions, values, strict=True):
            axes.text(x, value, f"{value:.1%}" if is_share else f"{value:,.1f}", ha="center", va="bottom", fontsize=9)
        if is_share:
            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
            axes.set_ylim(0, max(1.0, *values) * 1.08)
        else:
            axes.set_ylim(0, max(values) * 1.15 or 1.0)
        _style(axes)
    return figure
