"""The seeded catalog: deterministic, Spotify-shaped ids, MPD-like playlists with learnable structure."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np

from musiclake_extract.mpd_import import validate_slice
from musiclake_sim.catalog import generate_catalog, spotify_ids, write_mpd_slices
from musiclake_sim.cli import main
from musiclake_sim.synthetic_mpd import write_synthetic_mpd

BASE62_ID = re.compile(r"^[0-9A-Za-z]{22}$")


def test_same_seed_same_catalog_other_seed_other_catalog():
    a, b, c = generate_catalog(5, 300, 2000), generate_catalog(5, 300, 2000), generate_catalog(6, 300, 2000)
    assert a == b
    assert a.tracks[0]["id"] != c.tracks[0]["id"]
    assert [p["tracks"] for p in a.playlists] != [p["tracks"] for p in c.playlists]


def test_ids_are_unique_22_character_base62():
    catalog = generate_catalog(3, 50, 3000)
    for kind in ("tracks", "albums", "artists"):
        ids = [x["id"] for x in getattr(catalog, kind)]
        assert len(ids) == len(set(ids))
        assert all(BASE62_ID.match(i) for i in ids)
    assert spotify_ids(3, "track", 10) == [t["id"] for t in catalog.tracks[:10]]


def test_playlists_look_like_the_mpd():
    catalog = generate_catalog(1, 5000, 20000)
    lengths = np.array([len(p["tracks"]) for p in catalog.playlists])
    assert lengths.min() >= 5 and lengths.max() <= 250
    assert 50 <= lengths.mean() <= 70 and 35 <= np.median(lengths) <= 55  # MPD: mean 66, median 49
    assert all(len(set(p["tracks"])) == len(p["tracks"]) for p in catalog.playlists)


def test_popularity_is_zipf_like():
    catalog = generate_catalog(2, 5000, 20000)
    counts = np.array(sorted(Counter(t for p in catalog.playlists for t in p["tracks"]).values(), reverse=True))
    top_share = counts[0] / len(catalog.playlists)
    assert 0.01 < top_share < 0.2  # the most popular track is in a few percent of playlists, as in the MPD
    head, tail = counts[: len(counts) // 100].sum(), counts[len(counts) // 2 :].sum()
    assert head > tail  # the top 1% of tracks outweigh the bottom half
    ranks = np.arange(1, 201)
    slope = np.polyfit(np.log(ranks[20:]), np.log(counts[20:200]), 1)[0]
    assert -1.6 < slope < -0.3


def test_playlists_cluster_by_taste_so_co_occurrence_carries_signal():
    catalog = generate_catalog(4, 3000, 10000)
    cluster_of = np.array([t["cluster"] for t in catalog.tracks])
    purity = np.mean([np.mean(cluster_of[p["tracks"]] == p["cluster"]) for p in catalog.playlists])
    assert purity > 0.65
    chance = max(Counter(cluster_of).values()) / len(cluster_of)
    assert purity > 3 * chance


def test_mpd_slices_have_the_mpd_format(tmp_path):
    catalog = generate_catalog(9, 250, 1500)
    files = write_mpd_slices(catalog, tmp_path, playlists_per_slice=100)
    assert [f.name for f in files] == ["mpd.slice.0-99.json", "mpd.slice.100-199.json", "mpd.slice.200-299.json"]
    doc = json.loads(files[1].read_text())
    assert doc["info"]["slice"] == "100-199" and doc["info"]["version"] == "v1" and doc["info"]["generated_on"]
    assert [p["pid"] for p in doc["playlists"]] == list(range(100, 200))
    playlist = doc["playlists"][0]
    assert {
        "pid",
        "name",
        "collaborative",
        "modified_at",
        "num_tracks",
        "num_albums",
        "num_artists",
        "num_followers",
        "num_edits",
        "duration_ms",
        "tracks",
    } <= set(playlist)
    assert playlist["collaborative"] in ("true", "false")
    assert playlist["num_tracks"] == len(playlist["tracks"])
    assert playlist["duration_ms"] == sum(t["duration_ms"] for t in playlist["tracks"])
    assert playlist["num_albums"] == len({t["album_uri"] for t in playlist["tracks"]})
    assert playlist["num_artists"] == len({t["artist_uri"] for t in playlist["tracks"]})
    track = playlist["tracks"][0]
    assert set(track) == {
        "pos",
        "artist_name",
        "artist_uri",
        "track_name",
        "track_uri",
        "album_name",
        "album_uri",
        "duration_ms",
    }
    assert [t["pos"] for t in playlist["tracks"]] == list(range(len(playlist["tracks"])))
    assert re.match(r"^spotify:track:[0-9A-Za-z]{22}$", track["track_uri"])
    assert re.match(r"^spotify:album:[0-9A-Za-z]{22}$", track["album_uri"])
    assert re.match(r"^spotify:artist:[0-9A-Za-z]{22}$", track["artist_uri"])
    assert len(json.loads(files[2].read_text())["playlists"]) == 50


def test_generate_mpd_command_writes_slices(tmp_path, capsys):
    assert (
        main(
            [
                "generate-mpd",
                "--out",
                str(tmp_path),
                "--playlists",
                "150",
                "--tracks",
                "600",
                "--seed",
                "3",
                "--per-slice",
                "100",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mpd.slice.0-99.json", "mpd.slice.100-199.json"]
    again = tmp_path / "again"
    main(
        [
            "generate-mpd",
            "--out",
            str(again),
            "--playlists",
            "150",
            "--tracks",
            "600",
            "--seed",
            "3",
            "--per-slice",
            "100",
        ]
    )
    assert (again / "mpd.slice.0-99.json").read_bytes() == (tmp_path / "mpd.slice.0-99.json").read_bytes()
    assert "wrote 2 slice file(s)" in capsys.readouterr().out


def _slices(tmp_path, n_playlists: int, n_tracks: int, seed: int = 0, per_slice: int = 1000) -> list[dict]:
    stats = write_synthetic_mpd(tmp_path, n_playlists, n_tracks, seed, per_slice)
    return [json.loads(f.read_text()) for f in stats.files]


def test_streamed_slices_are_deterministic_per_seed(tmp_path):
    a = write_synthetic_mpd(tmp_path / "a", 250, 3000, seed=4, playlists_per_slice=100)
    b = write_synthetic_mpd(tmp_path / "b", 250, 3000, seed=4, playlists_per_slice=100)
    c = write_synthetic_mpd(tmp_path / "c", 250, 3000, seed=5, playlists_per_slice=100)
    assert [f.name for f in a.files] == ["mpd.slice.0-99.json", "mpd.slice.100-199.json", "mpd.slice.200-299.json"]
    assert [f.read_bytes() for f in a.files] == [f.read_bytes() for f in b.files]
    assert a.files[0].read_bytes() != c.files[0].read_bytes()
    # a slice does not depend on how many come after it: a bigger run starts with the same files
    bigger = write_synthetic_mpd(tmp_path / "d", 400, 3000, seed=4, playlists_per_slice=100)
    assert bigger.files[1].read_bytes() == a.files[1].read_bytes()


def test_streamed_slices_have_the_mpd_shape_and_pass_the_importer(tmp_path):
    docs = _slices(tmp_path, 150, 2000, per_slice=100)
    assert [validate_slice(d) for d in docs] == [None, None]
    assert [p["pid"] for d in docs for p in d["playlists"]] == list(range(150))
    catalog = generate_catalog(0, 0, 2000)
    durations = {f"spotify:track:{t['id']}": t["duration_ms"] for t in catalog.tracks}
    for playlist in docs[1]["playlists"]:
        assert playlist["num_tracks"] == len(playlist["tracks"])
        assert playlist["duration_ms"] == sum(t["duration_ms"] for t in playlist["tracks"])
        assert playlist["num_albums"] == len({t["album_uri"] for t in playlist["tracks"]})
        assert playlist["num_artists"] == len({t["artist_uri"] for t in playlist["tracks"]})
        assert [t["pos"] for t in playlist["tracks"]] == list(range(len(playlist["tracks"])))
        assert all(durations[t["track_uri"]] == t["duration_ms"] for t in playlist["tracks"])  # the seed's catalog
        assert len({t["track_uri"] for t in playlist["tracks"]}) == len(playlist["tracks"])
    assert set(docs[0]["playlists"][0]["tracks"][0]) == {
        "pos", "artist_name", "artist_uri", "track_name", "track_uri", "album_name", "album_uri", "duration_ms",
    }


def test_streamed_lengths_and_popularity_look_like_the_mpd(tmp_path):
    docs = _slices(tmp_path, 4000, 20000)
    lengths = np.array([len(p["tracks"]) for d in docs for p in d["playlists"]])
    assert lengths.min() >= 5 and lengths.max() <= 250
    assert 50 <= lengths.mean() <= 70 and 35 <= np.median(lengths) <= 55  # MPD: mean 66, median 49
    counts = np.array(
        sorted(Counter(t["track_uri"] for d in docs for p in d["playlists"] for t in p["tracks"]).values())[::-1]
    )
    assert 0.01 < counts[0] / len(lengths) < 0.2
    assert counts[: len(counts) // 100].sum() > counts[len(counts) // 2 :].sum()
    slope = np.polyfit(np.log(np.arange(21, 201)), np.log(counts[20:200]), 1)[0]
    assert -1.6 < slope < -0.3
