"""Builders for raw landing envelopes, read the way the jobs read them (explicit schema, corrupt lines kept).

A plain module (not a conftest): ``tests/conftest.py`` is imported by name elsewhere and must stay unambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake import schemas

RAW = "s3://musiclake-raw/raw"
FETCHED_AT = "2026-11-26T10:00:00.000000Z"


def source_file(run_id: str, source: str = "spotify", entity: str = "playlists") -> str:
    """The landing file of a run, laid out as in :mod:`musiclake.landing`."""
    return f"{RAW}/source={source}/entity={entity}/ingest_date=2026-11-26/run_id={run_id}/part-00000.jsonl.gz"


def envelope(
    run_id: str | None,
    source: str | None,
    entity: str | None,
    body: Any,
    *,
    key: str | None = None,
    http_status: int | None = 200,
    fetched_at: str | None = FETCHED_AT,
    request_url: str | None = None,
) -> dict[str, Any]:
    """One envelope as the extractor writes it (``body`` as received)."""
    return {
        "run_id": run_id,
        "source": source,
        "entity": entity,
        "key": key,
        "request_url": request_url,
        "http_status": http_status,
        "fetched_at": fetched_at,
        "body": body,
    }


def compact(value: Any) -> str:
    """JSON text the way Spark keeps a raw JSON value read as a string (compact, key order kept)."""
    return json.dumps(value, separators=(",", ":"))


def read_envelopes(spark: SparkSession, files: Mapping[str, Sequence[dict[str, Any] | str]]) -> DataFrame:
    """``{source_file: [envelope dict or raw line, ...]}`` -> envelopes, like :func:`musiclake.lake.load_envelopes`."""
    frames = []
    for path, records in files.items():
        lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
        frames.append(
            spark.read.schema(schemas.ENVELOPE)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", schemas.CORRUPT_COLUMN)
            .json(spark.sparkContext.parallelize(lines, 1))
            .withColumn("source_file", F.lit(path))
        )
    return reduce(DataFrame.unionByName, frames)


def sid(name: str) -> str:
    """A valid 22-character base62 Spotify id that reads as ``name``: ``sid("track1")`` = ``track10000000000000000``."""
    return name.ljust(22, "0")


def ts(text: str) -> datetime:
    """``"2026-11-26T10:00:00"`` -> an aware UTC datetime (the test session's time zone is UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


API = "https://api.spotify.com/v1"
ADDED_AT = "2026-11-20T08:00:00Z"


def api_track(name: str, artist: str = "artist1", album: str = "album1") -> dict[str, Any]:
    """A Web API TrackObject whose ids read as ``name``/``artist``/``album`` (names are their ``.title()``)."""
    return {
        "id": sid(name), "uri": f"spotify:track:{sid(name)}", "name": name.title(), "type": "track",
        "duration_ms": 180000, "explicit": False, "is_local": False, "external_ids": {"isrc": f"ISRC{name}"},
        "album": {"id": sid(album), "uri": f"spotify:album:{sid(album)}", "name": album.title(), "album_type": "album",
                  "release_date": "2020-01-01", "artists": [{"id": sid(artist), "name": artist.title()}]},
        "artists": [{"id": sid(artist), "uri": f"spotify:artist:{sid(artist)}", "name": artist.title(),
                     "type": "artist"}],
    }


def playlist_entry(item: Any, key: str = "item", added_by: str | None = "user1", is_local: bool = False) -> dict:
    """A playlist item (PlaylistTrackObject): the payload under ``item`` (2026) or the deprecated ``track``."""
    return {"added_at": ADDED_AT, "added_by": {"id": added_by} if added_by else None, "is_local": is_local,
            key: item}
