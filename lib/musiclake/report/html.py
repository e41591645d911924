"""HTML building blocks of the report: one self-contained page (inline CSS, images as data URIs, no script).

Every chart is a ``<figure class="chart" id="chart-<key>" data-chart="<key>">`` holding one ``<img>``; a section
without data is a ``<div class="no-data" data-section="<key>">``. The render test finds them by these attributes.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from typing import Any

Format = Callable[[Any], str]

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; margin: 0; color: #1f2328;
       background: #f6f8fa; }
header { background: #191414; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
header p { margin: 0; color: #b3b3b3; font-size: 13px; }
nav { padding: 8px 32px; background: #fff; border-bottom: 1px solid #d0d7de; font-size: 13px; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
main { max-width: 1100px; margin: 0 auto; padding: 8px 24px 40px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 24px 20px; margin: 20px 0; }
section h2 { font-size: 19px; border-bottom: 1px solid #eaeef2; padding-bottom: 6px; }
p.note { color: #57606a; font-size: 14px; }
figure.chart { margin: 12px 0; text-align: center; }
figure.chart img { max-width: 100%; height: auto; }
figure.chart figcaption { color: #57606a; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; width: 100%; }
th, td { border-bottom: 1px solid #eaeef2; padding: 4px 8px; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
details summary { cursor: pointer; color: #0969da; font-size: 14px; margin-top: 8px; }
.no-data { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 20px 0 0; }
.card { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 12px 18px; min-width: 130px; }
.card .value { font-size: 22px; font-weight: 600; }
.card .label { color: #57606a; font-size: 12px; }
.status-failed { color: #cf222e; font-weight: 600; }
"""


def esc(value: Any) -> str:
    """``value`` as escaped HTML text (``None`` as an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def integer(value: Any) -> str:
    """``1,234``; empty for ``None``."""
    return "" if value is None else f"{int(value):,}"


def decimal3(value: Any) -> str:
    """Three decimals; empty for ``None``."""
    return "" if value is None else f"{float(value):.3f}"


def percent(value: Any) -> str:
    """``12.3%`` for ``0.123``; empty for ``None``."""
    return "" if value is None else f"{float(value):.1%}"


def timestamp(value: Any) -> str:
    """``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else str(value)


def yes_no(value: Any) -> str:
    """``yes``/``no`` for a boolean; empty for ``None``."""
    return "" if value is None else ("yes" if value else "no")


NUMERIC_FORMATS = (integer, decimal3, percent)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, Format]], css_id: str) -> str:
    """An HTML table of ``rows``; ``columns`` are ``(key, heading, format)``."""
    head = "".join(
        f'<th class="num">{esc(heading)}</th>' if fmt in NUMERIC_FORMATS else f"<th>{esc(heading)}</th>"
        for _key, heading, fmt in columns
    )
    body = []
    for row in rows:
        cells = []
        for key, _heading, fmt in columns:
            css = ' class="num"' if fmt in NUMERIC_FORMATS else ""
            text = fmt(row.get(key))
            if key == "status" and row.get(key) == "failed":
                text = f'<span class="status-failed">{text}</span>'
            cells.append(f"<td{css}>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table id="{esc(css_id)}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def collapsible(summary: str, content: str) -> str:
    """``content`` folded under a ``<details>`` with ``summary``."""
    return f"<details><summary>{esc(summary)}</summary>{content}</details>"


def figure(key: str, png_base64: str, alt: str, caption: str = "") -> str:
    """A chart: ``<figure class="chart" id="chart-<key>" data-chart="<key>">`` with the PNG inlined."""
    caption_html = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="chart" id="chart-{esc(key)}" data-chart="{esc(key)}">'
        f'<img src="data:image/png;base64,{png_base64}" alt="{esc(alt)}">{caption_html}</figure>'
    )


def no_data(key: str, message: str) -> str:
    """The placeholder of a section whose tables are empty or not built yet."""
    return f'<div class="no-data" data-section="{esc(key)}"><strong>No data yet.</strong> {esc(message)}</div>'


def section(key: str, title: str, note: str, body: str) -> str:
    """One report section with an anchor ``section-<key>``."""
    return (
        f'<section id="section-{esc(key)}" data-section="{esc(key)}"><h2>{esc(title)}</h2>'
        f'<p class="note">{esc(note)}</p>{body}</section>'
    )


def cards(items: Sequence[tuple[str, str]]) -> str:
    """Headline numbers: ``(value, label)`` pairs."""
    inner = "".join(
        f'<div class="card"><div class="value">{esc(value)}</div><div class="label">{esc(label)}</div></div>'
        for value, label in items
    )
    return f'<div class="cards" id="summary">{inner}</div>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]], summary: str) -> str:
    """The whole document; ``sections`` are ``(key, title, html)``."""
    nav = "".join(f'<a href="#section-{esc(key)}">{esc(name)}</a>' for key, name, _html in sections)
    body = "".join(content for _key, _name, content in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header><nav>{nav}</nav>"
        f"<main>{summary}{body}</main></body></html>\n"
    )
