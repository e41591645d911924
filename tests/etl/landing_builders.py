"""Builders for raw landing envelopes, read the way the jobs read them (explicit schema, corrupt lines kept).

A plain module (not a conftest): ``tests/conftest.py`` is imported by name elsewhere and must stay unambiguous.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from musiclake import landing, schemas, storage

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


# --- whole landing runs, written with the landing contract's helpers ---------------------------------------------
MPD_INGEST_DATE = "2026-11-26"


def mpd_playlist(pid: int, tracks: Sequence[int] = (0, 1), modified_at: int = 1764151200) -> dict[str, Any]:
    """An MPD slice playlist whose items are the tracks numbered ``tracks`` (track ``i`` of playlist ``pid`` is
    ``p<pid>t<i>``: the same number twice is the same track listed twice)."""
    items = [{"pos": pos, "artist_name": "Artist", "track_uri": f"spotify:track:{f'p{pid}t{i}'.ljust(22, '0')}",
              "artist_uri": f"spotify:artist:{'artist'.ljust(22, '0')}", "track_name": f"Track {pid}.{i}",
              "album_uri": f"spotify:album:{'album'.ljust(22, '0')}", "duration_ms": 200000,
              "album_name": "Album"} for pos, i in enumerate(tracks)]
    return {"name": f"playlist {pid}", "collaborative": "false", "pid": pid, "modified_at": modified_at,
            "num_tracks": len(items), "num_albums": 1, "num_followers": 0, "tracks": items, "num_edits": 1,
            "duration_ms": 200000 * len(items), "num_artists": 1}


def land_mpd(raw: str, playlists: Sequence[dict[str, Any]]) -> str:
    """One complete MPD landing run (one gzip part and its manifest) holding ``playlists``; its run id."""
    run_id = landing.new_run_id("mpd")
    lines = [json.dumps(landing.envelope(run_id=run_id, source="mpd", entity="playlists", key=str(p["pid"]),
                                         request_url="file:///mpd.slice.test.json", http_status=None, body=p))
             for p in playlists]
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    uri = storage.join(landing.run_folder(raw, "mpd", "playlists", MPD_INGEST_DATE, run_id), landing.part_name(0))
    storage.put_bytes(uri, data)
    part = landing.ManifestFile(path=uri[len(raw) + 1:], entity="playlists", records=len(lines), bytes=len(data),
                                sha256=landing.sha256(data))
    now = landing.iso_utc(landing.utc_now())
    landing.write_manifest(raw, landing.Manifest(run_id=run_id, source="mpd", status=landing.STATUS_COMPLETE,
                                                 started_at=now, finished_at=now, ingest_date=MPD_INGEST_DATE,
                                                 files=[part]))
    return run_id
