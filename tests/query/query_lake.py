"""The tiny lake of the query tests: Delta tables written by delta-rs (no Spark) and a landing zone written with
the landing contract. Imported by conftest.py (the fixture) and by tests that check values against it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class TinyLake:
    root: Path
    lake: str
    landing: str


TRACKS = {
    "track_id": ["t1", "t2", "t3", "t4"],
    "track_name": ["Alpha", "Beta, with comma", None, "Delta \"quoted\""],
    "artist_name": ["A", "B", "B", "C"],
    "duration_ms": [200_000, 180_500, None, 240_000],
    "explicit": [True, False, None, False],
}
PLAYLIST_TRACKS = {
    "playlist_id": ["p1", "p1", "p1", "p2", "p2", "mpd:7"],
    "position": [0, 1, 2, 0, 1, 0],
    "track_id": ["t1", "t2", "t3", "t1", "t4", "t2"],
    "source": ["spotify", "spotify", "spotify", "spotify", "spotify", "mpd"],
}
LANDED = {  # (source, entity) -> envelopes of one run
    ("spotify", "tracks"): [{"id": "t1", "name": "Alpha"}, {"id": "t2", "name": "Beta"}],
    ("spotify", "artists"): [{"id": "a1", "name": "A"}],
    ("mpd", "playlists"): [{"pid": 7, "name": "road trip", "tracks": []}],
}


def write_tiny_lake(root: Path, storage_options: dict[str, str] | None = None, lake: str | None = None) -> None:
    """The tiny lake's Delta tables under ``lake`` (default ``root/lake``), with delta-rs."""
    import pyarrow as pa
    from deltalake import write_deltalake

    lake = lake or str(root / "lake")
    options = {"storage_options": storage_options} if storage_options else {}
    write_deltalake(f"{lake}/tracks", pa.table(TRACKS), **options)
    write_deltalake(f"{lake}/playlist_tracks", pa.table(PLAYLIST_TRACKS), partition_by=["source"], **options)
    started = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    job_runs = pa.table(
        {
            "job_run_id": ["r1", "r2"],
            "started_at": pa.array([started, started.replace(hour=11)], pa.timestamp("us", tz="UTC")),
            "landing_runs": pa.array([["run-a", "run-b"], []], pa.list_(pa.string())),
            "records_written": pa.array([[("tracks", 4), ("playlists", 2)], []], pa.map_(pa.string(), pa.int64())),
        }
    )
    write_deltalake(f"{lake}/job_runs", job_runs, **options)


def write_tiny_landing(landing_root: str) -> dict[tuple[str, str], int]:
    """Land :data:`LANDED` with the landing contract (files + manifests); returns records per (source, entity)."""
    from musiclake import landing, storage

    counts: dict[tuple[str, str], int] = {}
    for source in ("spotify", "mpd"):
        run_id = landing.new_run_id(source, datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
        manifest = landing.Manifest(run_id=run_id, source=source, status="complete", started_at="s",
                                    finished_at="f", ingest_date="2026-11-26")
        for (src, entity), bodies in LANDED.items():
            if src != source:
                continue
            records = [
                landing.envelope(run_id=run_id, source=source, entity=entity, key=str(body.get("id", body.get("pid"))),
                                 request_url=f"https://api/{entity}", http_status=200, body=body)
                for body in bodies
            ]
            folder = landing.run_folder(landing_root, source, entity, "2026-11-26", run_id)
            data = landing.encode_records(records)
            storage.put_bytes(storage.join(folder, landing.part_name(0)), data)
            manifest.files.append(landing.ManifestFile(
                path=f"{folder[len(landing_root):].strip('/')}/{landing.part_name(0)}", entity=entity,
                records=len(records), bytes=len(data), sha256=landing.sha256(data)))
            counts[(source, entity)] = len(records)
        landing.write_manifest(landing_root, manifest)
        # the extractor's resume state lives beside the data: never part of the raw table
        storage.put_bytes(landing.checkpoint_uri(landing_root, source, "run"), b'{"not": "data"}')
    return counts
