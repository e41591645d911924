"""What a recommendation answer is, and how the CLI reads and prints one (standard library only).

Shared by the read path (:mod:`musiclake.serve.recommend`) and the batch job's Spark path
(:mod:`musiclake.recommend.serve`), so that both answer in the same types and the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_TRACK_REFERENCE = re.compile(r"(?:spotify:track:|open\.spotify\.com/track/)([0-9A-Za-z]+)")

ALS, FOLD_IN, POPULARITY, SIMILAR = "als", "fold-in", "popularity", "similar"


@dataclass(frozen=True)
class Recommended:
    """One recommended track, with its name and artist when the lake's ``tracks`` table has them."""

    rank: int
    track_id: str
    score: float
    track_name: str | None = None
    artist_name: str | None = None


@dataclass(frozen=True)
class Served:
    """A served list and how it was made (``als``, ``fold-in``, ``popularity`` or ``similar``): which seeds were
    used or unknown (fold-in) and which model answered."""

    source: str
    title: str
    tracks: list[Recommended]
    notes: list[str] = field(default_factory=list)
    used_track_ids: list[str] = field(default_factory=list)
    unknown_track_ids: list[str] = field(default_factory=list)
    model_version: str | None = None


def parse_track_ids(text: str) -> list[str]:
    """Track ids from a comma-separated list of ids, ``spotify:track:<id>`` URIs or open.spotify.com links."""
    return parse_track_references(part for part in text.split(","))


def parse_track_references(entries: Iterable[str]) -> list[str]:
    """Track ids from ids, ``spotify:track:<id>`` URIs or open.spotify.com links (blank entries dropped)."""
    stripped = [e.strip() for e in entries if e and e.strip()]
    return [(match.group(1) if (match := _TRACK_REFERENCE.search(e)) else e) for e in stripped]


def format_served(served: Served) -> str:
    """The list as the CLI prints it: rank, track, artist, score, track id."""
    width = max([len(t.track_name or "") for t in served.tracks] + [5])
    width = min(width, 48)
    lines = [served.title, *[f"  note: {note}" for note in served.notes]]
    lines.append(f"  {'#':>3}  {'track':<{width}}  {'artist':<28}  {'score':>9}  track_id")
    for t in served.tracks:
        name = (t.track_name or "?")[:width]
        artist = (t.artist_name or "?")[:28]
        lines.append(f"  {t.rank:>3}  {name:<{width}}  {artist:<28}  {t.score:>9.4g}  {t.track_id}")
    return "\n".join(lines)
