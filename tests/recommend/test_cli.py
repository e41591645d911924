"""The ``musiclake`` argparse app and the ``recommend`` subcommand's argument handling (no Spark)."""

from __future__ import annotations

import pytest

from musiclake import cli
from musiclake.recommend import serve


def test_recommend_takes_a_playlist_or_seed_tracks_and_a_k(monkeypatch):
    monkeypatch.setenv("MUSICLAKE_LAKE_PATH", "/lake")

    args = cli.build_parser().parse_args(["recommend", "--playlist", "mpd:7", "--k", "5"])

    assert (args.command, args.playlist, args.tracks, args.k) == ("recommend", "mpd:7", None, 5)
    assert args.lake_path == "/lake"
    assert callable(args.handler)


@pytest.mark.parametrize(
    "argv",
    [
        ["recommend"],
        ["recommend", "--playlist", "mpd:1", "--tracks", "a"],
        ["recommend", "--playlist", "mpd:1", "--k", "0"],
    ],
)
def test_recommend_rejects_missing_conflicting_or_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(argv)

    assert exit_info.value.code == 2


def test_parse_track_ids_accepts_ids_uris_and_links():
    text = (
        "4uLU6hMCjMI75M1A2tKUQC, spotify:track:7GhIk7Il098yCjg4BQjzvb,"
        "https://open.spotify.com/track/0VjIjW4GlUZAMYd2vXMi3b?si=abc,,"
    )

    expected = ["4uLU6hMCjMI75M1A2tKUQC", "7GhIk7Il098yCjg4BQjzvb", "0VjIjW4GlUZAMYd2vXMi3b"]
    assert serve.parse_track_ids(text) == expected
    assert serve.parse_track_ids("") == []


def test_format_served_prints_rank_names_artists_and_notes():
    served = serve.Served(
        "fold-in",
        "New playlist",
        [serve.Recommended(1, "id1", 0.5, "Song", "Band"), serve.Recommended(2, "id2", 0.25)],
        ["unknown to the model, ignored: x"],
    )

    lines = serve.format_served(served).splitlines()

    assert lines[0] == "New playlist" and "ignored: x" in lines[1]
    assert "Song" in lines[3] and "Band" in lines[3] and "id1" in lines[3]
    assert "?" in lines[4] and "id2" in lines[4]
