"""The answers of the read path on the hand-made model (serve_lake.py), checked by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from serve_lake import ITEMS, VERSION

from musiclake.serve import recommend
from musiclake.serve.scoring import fold_in


def _ids(served) -> list[str]:
    return [t.track_id for t in served.tracks]


def test_a_known_playlist_gets_its_unseen_tracks_by_score_with_names(tiny_model):
    served = recommend.for_playlist(tiny_model, "mpd:0", 3)

    assert served.source == "als" and served.title == 'Recommendations for playlist mpd:0 "List 0"'
    assert _ids(served) == ["t1", "t4", "t3"]  # t0 is the playlist's own
    assert [t.score for t in served.tracks] == pytest.approx([0.9, 0.5, 0.1])
    assert [t.rank for t in served.tracks] == [1, 2, 3] and served.notes == []
    assert (served.tracks[0].track_name, served.tracks[0].artist_name) == ("Song 1", "artist 1")
    assert served.model_version == VERSION


def test_a_playlist_with_fewer_unseen_tracks_than_k_says_so(tiny_model):
    served = recommend.for_playlist(tiny_model, "mpd:3", 10)

    assert _ids(served) == ["t5"] and served.notes == ["only 1 of the model's tracks are not in the playlist already"]


def test_an_unknown_playlist_gets_the_popular_tracks_and_is_told_so(tiny_model):
    served = recommend.for_playlist(tiny_model, "mpd:404", 3)

    assert served.source == "popularity"
    assert served.title == (f"Playlist mpd:404 is unknown to model v={VERSION}: falling back to the 3 most popular "
                            "tracks (score: number of playlists)")
    assert _ids(served) == ["t0", "t2", "t3"] and [t.score for t in served.tracks] == [2.0, 2.0, 2.0]


def test_seed_tracks_are_folded_in_and_the_seeds_excluded(tiny_model):
    served = recommend.for_tracks(tiny_model, ["t0", "nope", "t0", "spotify-ish"], 4)

    vector = fold_in(ITEMS[[0]], np.array([2.0]), tiny_model.gram, reg_param=0.1, alpha=10.0)
    scores = ITEMS.astype(np.float64) @ vector
    expected = sorted(range(1, 6), key=lambda i: (-scores[i], i))[:4]
    assert served.source == "fold-in" and _ids(served) == [f"t{i}" for i in expected]
    assert [t.score for t in served.tracks] == pytest.approx(scores[expected].tolist())
    assert served.used_track_ids == ["t0"] and served.unknown_track_ids == ["nope", "spotify-ish"]
    assert served.notes == ["unknown to the model, ignored: nope, spotify-ish"]
    assert served.title == f"New playlist from 1 seed track(s), folded into ALS model v={VERSION} (no retraining)"


@pytest.mark.parametrize(("weighting", "confidence"), [("linear", 2.0), ("log", np.log1p(2.0)),
                                                       ("bm25", 2.0 * 101.0 / 102.0)])
def test_seeds_get_the_confidence_weighting_the_model_was_trained_with(tiny_model, weighting, confidence):
    """A model tuned with log weighting learnt alpha for log(1 + r): a seed listed twice folds in as log(3)."""
    params = {**tiny_model.metadata["params"], "weighting": weighting}
    model = dataclasses.replace(tiny_model, metadata={**tiny_model.metadata, "params": params})

    served = recommend.for_tracks(model, ["t0", "t0"], 3)

    vector = fold_in(ITEMS[[0]], np.array([confidence]), model.gram, reg_param=0.1, alpha=10.0)
    scores = ITEMS.astype(np.float64) @ vector
    assert [t.score for t in served.tracks] == pytest.approx(sorted(scores[1:6], reverse=True)[:3])


def test_an_unknown_weighting_in_the_metadata_is_refused(tiny_model):
    params = {**tiny_model.metadata["params"], "weighting": "tfidf"}
    model = dataclasses.replace(tiny_model, metadata={**tiny_model.metadata, "params": params})

    with pytest.raises(ValueError, match="unknown confidence weighting 'tfidf'"):
        recommend.for_tracks(model, ["t0"], 3)


def test_no_known_seed_falls_back_to_the_popular_tracks_not_among_the_seeds(tiny_model):
    unknown = recommend.for_tracks(tiny_model, ["x"], 2)
    none = recommend.for_tracks(tiny_model, [], 2)

    assert unknown.source == "popularity" and "none of the seed tracks is known" in unknown.title
    assert _ids(unknown) == ["t0", "t2"] and unknown.unknown_track_ids == ["x"]
    assert "no seed tracks given" in none.title
    assert _ids(recommend.for_tracks(tiny_model, ["zz"], 6)) == ["t0", "t2", "t3", "t4", "t1", "t5"]


def test_popular_excludes_given_tracks_and_ranks_from_one(tiny_model):
    assert [(t.rank, t.track_id) for t in recommend.popular(tiny_model, 2, exclude=["t0", "t3"])] == [
        (1, "t2"), (2, "t4")]


def test_similar_tracks_are_ranked_by_cosine_among_tracks_in_two_playlists(tiny_model):
    served = recommend.similar(tiny_model, "t1", 10)

    norms = np.linalg.norm(ITEMS.astype(np.float64), axis=1)
    cosine = ITEMS.astype(np.float64) @ ITEMS[1].astype(np.float64) / (norms * norms[1])
    assert _ids(served) == ["t0", "t4", "t3", "t2"]  # t1 itself and t5 (in no playlist) are not candidates
    assert [t.score for t in served.tracks] == pytest.approx(cosine[[0, 4, 3, 2]].tolist(), abs=1e-6)
    assert served.title.startswith('Tracks similar to t1 "Song 1" by artist 1')


def test_similar_to_an_unknown_track_is_an_error(tiny_model):
    with pytest.raises(recommend.UnknownTrackError, match="unknown to model"):
        recommend.similar(tiny_model, "nope", 3)


def test_parse_track_ids_accepts_ids_uris_and_links():
    text = ("4uLU6hMCjMI75M1A2tKUQC, spotify:track:7GhIk7Il098yCjg4BQjzvb,"
            "https://open.spotify.com/track/0VjIjW4GlUZAMYd2vXMi3b?si=abc,,")

    assert recommend.parse_track_ids(text) == ["4uLU6hMCjMI75M1A2tKUQC", "7GhIk7Il098yCjg4BQjzvb",
                                               "0VjIjW4GlUZAMYd2vXMi3b"]
    assert recommend.parse_track_ids("") == []


def test_format_served_prints_rank_names_artists_and_notes():
    served = recommend.Served("fold-in", "New playlist", [recommend.Recommended(1, "id1", 0.5, "Song", "Band"),
                                                          recommend.Recommended(2, "id2", 0.25)], ["ignored: x"])

    lines = recommend.format_served(served).splitlines()

    assert lines[0] == "New playlist" and "ignored: x" in lines[1]
    assert "Song" in lines[3] and "Band" in lines[3] and "id1" in lines[3]
    assert "?" in lines[4] and "id2" in lines[4]


def test_with_names_fills_the_names_of_a_popularity_list(tiny_model):
    served = recommend.with_names(tiny_model, recommend.for_playlist(tiny_model, "unknown", 1))

    assert (served.tracks[0].track_name, served.tracks[0].artist_name) == ("Song 0", "artist 0")
