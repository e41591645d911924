"""Recommendations from a loaded model, without Spark: the answers of :mod:`musiclake.recommend.serve`.

* :func:`for_playlist` - a trained playlist: its factors against every track, its own tracks excluded (the
  computation that filled the ``recommendations`` table, so the same top-k); unknown playlists get the popular
  tracks;
* :func:`for_tracks` - a new playlist from seed tracks, folded into the item factors (no retraining); unknown
  seeds are listed, not fatal; with no known seed, the popular tracks not among the seeds;
* :func:`similar` - a track's nearest tracks by cosine of the item factors among the tracks in at least two
  playlists (the ``similar_tracks`` table's rule), computed on request for any ``k``.

Each answer is planned (:class:`Pending`: what to score, and how to finish the answer) so that the HTTP API can
score many requests in one batch (:class:`musiclake.serve.scoring.BatchScorer`); the functions here score it
directly (:func:`musiclake.serve.scoring.rank_queries`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from musiclake.serve.answer import (  # noqa: F401 - the answer's types and text, re-exported for callers
    ALS,
    FOLD_IN,
    POPULARITY,
    SIMILAR,
    Recommended,
    Served,
    format_served,
    parse_track_ids,
    parse_track_references,
)
from musiclake.serve.confidence import seed_weights
from musiclake.serve.model import Model
from musiclake.serve.scoring import Query, Ranked, fold_in, rank_queries


@dataclass(frozen=True)
class Pending:
    """An answer waiting for its scores: ``query`` to rank (None: nothing to score), ``finish`` to build it."""

    query: Query | None
    finish: Callable[[Ranked | None], Served]

    def resolve(self, model: Model) -> Served:
        """Score the query on its own (the CLI's way; the API batches them) and finish the answer."""
        return self.finish(rank_queries(model, [self.query])[0] if self.query is not None else None)


# --- a trained playlist -------------------------------------------------------------------------------------------

def plan_for_playlist(model: Model, playlist_id: str, k: int = 20) -> Pending:
    """:func:`for_playlist`, planned: the playlist's factors as the query, its own tracks excluded."""
    index = model.playlists.index_of(playlist_id)
    if index is None or not model.has_factors(index):
        title = (f"Playlist {playlist_id} is unknown to model v={model.version}: falling back to the {k} most "
                 "popular tracks (score: number of playlists)")
        served = Served(POPULARITY, title, popular(model, k), model_version=model.version)
        return Pending(None, lambda _: served)
    name = model.playlist_name(index)
    title = f"Recommendations for playlist {playlist_id}" + (f' "{name}"' if name else "")

    def finish(ranked: Ranked | None) -> Served:
        tracks = _recommended(model, ranked)
        notes = [] if len(tracks) == k else [
            f"only {len(tracks)} of the model's tracks are not in the playlist already" if tracks else
            "the playlist already has every track the model knows"]
        return Served(ALS, title, tracks, notes, model_version=model.version)

    return Pending(Query(model.user_factors[index], model.seen(index), k), finish)


def for_playlist(model: Model, playlist_id: str, k: int = 20) -> Served:
    """The top ``k`` of a playlist the model was trained on (its own tracks excluded); popularity when unknown.

    Notes
    -----
    The list is the one the ``recommendations`` table holds for the playlist (same scores within float32
    rounding; ties broken by lower track index), for any ``k``, not only up to the table's depth. A playlist that
    already has every track gets an empty list and a note (the table has no row for it, so the Spark path
    answers with the popular tracks, which it already has).
    """
    return plan_for_playlist(model, playlist_id, k).resolve(model)


# --- a new playlist from seed tracks ------------------------------------------------------------------------------

def plan_for_tracks(model: Model, track_ids: Sequence[str], k: int = 20) -> Pending:
    """:func:`for_tracks`, planned: the fold-in solution as the query, the seeds excluded."""
    weights = Counter(track_ids)  # a track listed twice weighs 2, as in training
    seeds = list(weights)
    indices = model.tracks.lookup(seeds)
    known = {t: int(i) for t, i in zip(seeds, indices, strict=True) if i >= 0}
    unknown = [t for t in seeds if t not in known]
    notes = [f"unknown to the model, ignored: {', '.join(unknown)}"] if unknown else []
    missing = set(model.items_without_factors.tolist())
    usable = [t for t in seeds if t in known and known[t] not in missing]
    if not usable:
        reason = "no seed tracks given" if not track_ids else "none of the seed tracks is known to the model"
        title = f"New playlist: {reason}: falling back to the {k} most popular tracks (score: number of playlists)"
        served = Served(POPULARITY, title, popular(model, k, exclude=seeds), notes, [], unknown, model.version)
        return Pending(None, lambda _: served)
    seed_idx = np.array([known[t] for t in usable], dtype=np.int64)
    listed = np.array([weights[t] for t in usable], dtype=np.float64)
    vector = fold_in(model.item_factors[seed_idx], seed_weights(listed, model.weighting), model.gram,
                     reg_param=model.reg_param, alpha=model.alpha)
    title = f"New playlist from {len(usable)} seed track(s), folded into ALS model v={model.version} (no retraining)"

    def finish(ranked: Ranked | None) -> Served:
        return Served(FOLD_IN, title, _recommended(model, ranked), notes, usable, unknown, model.version)

    return Pending(Query(vector, seed_idx, k), finish)


def for_tracks(model: Model, track_ids: Sequence[str], k: int = 20) -> Served:
    """Recommendations for a new playlist made of ``track_ids``, folded into the trained item factors.

    Seed tracks the model does not know are ignored (and listed); with none known, or no seeds at all, the most
    popular tracks not among the seeds are served instead.
    """
    return plan_for_tracks(model, track_ids, k).resolve(model)


# --- similar tracks -----------------------------------------------------------------------------------------------

class UnknownTrackError(LookupError):
    """The track is not in the model (or has no factors)."""


def plan_similar(model: Model, track_id: str, k: int = 20) -> Pending:
    """:func:`similar`, planned: the track's factors as a cosine query, the track itself excluded.

    Raises
    ------
    UnknownTrackError
        If the model has no factors for the track.
    """
    index = model.tracks.index_of(track_id)
    if index is None or index in set(model.items_without_factors.tolist()) or not model.item_factors[index].any():
        raise UnknownTrackError(f"track {track_id} is unknown to model v={model.version}")
    name, artist = (values[0] for values in model.names_of(np.array([index])))
    about = f' "{name}"' + (f" by {artist}" if artist else "") if name else ""
    title = f"Tracks similar to {track_id}{about} (cosine of the ALS item factors, model v={model.version})"

    def finish(ranked: Ranked | None) -> Served:
        return Served(SIMILAR, title, _recommended(model, ranked), model_version=model.version)

    return Pending(Query(model.item_factors[index], np.array([index]), k, cosine=True), finish)


def similar(model: Model, track_id: str, k: int = 20) -> Served:
    """The ``k`` tracks most similar to ``track_id`` by cosine similarity of the ALS item factors.

    Candidates are the tracks in at least two playlists, as in the ``similar_tracks`` table (whose lists this
    reproduces, within float32 rounding); the track itself is never among them.

    Raises
    ------
    UnknownTrackError
        If the model has no factors for the track.
    """
    return plan_similar(model, track_id, k).resolve(model)


# --- the popularity fallback and names ----------------------------------------------------------------------------

def popular(model: Model, k: int, exclude: Sequence[str] = ()) -> list[Recommended]:
    """The ``k`` most popular tracks (score: number of playlists) not in ``exclude``, ranked from 1."""
    excluded = set(exclude)
    kept = [(t, s) for t, s in zip(model.popular.track_ids, model.popular.scores.tolist(), strict=True)
            if t not in excluded][:k]
    return [Recommended(i, t, float(s)) for i, (t, s) in enumerate(kept, start=1)]


def with_names(model: Model, served: Served) -> Served:
    """Fill in track and artist names from the lake's ``tracks`` table (left as they are when it is absent)."""
    if not served.tracks:
        return served
    indices = model.tracks.lookup([t.track_id for t in served.tracks])
    names, artists = model.names_of(np.maximum(indices, 0))
    named = [
        replace(t, track_name=name, artist_name=artist) if index >= 0 else t
        for t, index, name, artist in zip(served.tracks, indices.tolist(), names, artists, strict=True)
    ]
    return replace(served, tracks=named)


def _recommended(model: Model, ranked: Ranked | None) -> list[Recommended]:
    if ranked is None or not len(ranked.track_idx):
        return []
    ids = model.tracks.ids(ranked.track_idx)
    names, artists = model.names_of(ranked.track_idx)
    rows = zip(ids, ranked.scores.tolist(), names, artists, strict=True)
    return [Recommended(i, t, float(s), n, a) for i, (t, s, n, a) in enumerate(rows, start=1)]
