"""Similar tracks by cosine similarity of the ALS item factors."""

from __future__ import annotations

from musiclake.recommend import similar
from musiclake.schemas import TRACK_ID, TRACK_IDX


def _cluster_of(interactions, cluster_of_track) -> dict[int, int]:
    rows = interactions.select(TRACK_IDX, TRACK_ID).distinct().collect()
    return {row[TRACK_IDX]: cluster_of_track[row[TRACK_ID]] for row in rows}


def test_similar_tracks_come_from_the_same_taste_cluster(interactions, model, cluster_of_track):
    cluster = _cluster_of(interactions, cluster_of_track)

    lists = similar.similar_tracks(model, k=5).collect()

    same = [cluster[row[TRACK_IDX]] == cluster[row[similar.SIMILAR_TRACK_IDX]] for row in lists]
    assert all(row[TRACK_IDX] != row[similar.SIMILAR_TRACK_IDX] for row in lists)
    assert all(-1.0 - 1e-6 <= row[similar.SIMILARITY] <= 1.0 + 1e-6 for row in lists)
    assert sum(same) / len(same) > 0.8
