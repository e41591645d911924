"""The benchmark scripts' non-Spark parts run at toy size (smoke only: nothing is timed or compared here)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))


def test_duckdb_reference_flattens_the_landed_slices(tmp_path):
    import etl_bench

    from musiclake_extract.mpd_import import MpdOptions, run_mpd
    from musiclake_sim.synthetic_mpd import write_synthetic_mpd

    generated = write_synthetic_mpd(tmp_path / "mpd", 60, 2000, seed=1, playlists_per_slice=25)
    assert run_mpd(MpdOptions(source=str(tmp_path / "mpd"), landing=str(tmp_path / "landing"))).status == "complete"

    counts = etl_bench.run_duckdb(tmp_path / "landing", tmp_path / "out", threads=1)

    assert counts["playlists"] == 60
    assert counts["playlist_tracks"] == counts["interactions"] == generated.items


def test_repeated_runs_report_medians_ranges_and_the_ratio_of_the_medians():
    """A slow outlier moves the range, not the median, nor the ratio the report gives."""
    import etl_bench

    repeated = etl_bench.Repeated(duckdb=[4.0, 3.0, 5.0], one_run=[40.0, 90.0, 45.0])

    assert etl_bench.spread(repeated.one_run) == "45.0 s (40.0-90.0 s, 3 runs)"
    assert repeated.ratio == 45.0 / 4.0
    row = etl_bench.Row(1000, 1, 46, None, None, None, None, None, repeated)
    assert "4.0 s (3.0-5.0 s, 3 runs) / 45.0 s (40.0-90.0 s, 3 runs): 11.2x" in etl_bench._report([row])


def test_implicit_reference_ranks_unseen_tracks_and_scores_ndcg():
    import als_compare
    import pandas as pd

    from musiclake.recommend.fit import AlsParams

    user, item, n_items = als_compare.interactions(300)
    train = pd.DataFrame({"playlist_idx": user, "track_idx": item})
    holdout = train.groupby("playlist_idx").head(1)
    train = train.drop(holdout.index)

    result = als_compare.run_implicit(train, 300, n_items, AlsParams(rank=8, max_iter=2), 0.05)

    seen = train.groupby("playlist_idx")["track_idx"].apply(set)
    assert all(not (set(result["top"][p]) & seen[p]) for p in seen.index[:50])
    assert 0.0 <= als_compare.ndcg10(result["top"], holdout) <= 1.0
    assert np.isfinite(result["per_iter"])


def test_als_iteration_flops_follow_the_exact_solve():
    import als_iteration

    flops = als_iteration.flops_per_iteration(nnz=3, users=1, items=2, rank=2)

    # per rating, both halves: dspr k(k+1) + 4k; per row k^3/3 + 2k^2 + k(k+1); Gram 2 k(k+1) per row
    assert flops["normal_equations"] == 2 * 3 * (6 + 8)
    assert flops["gram"] == 2 * 3 * 6
    assert abs(flops["solves"] - 3 * (8 / 3 + 8 + 6)) < 1e-9
    assert flops["total"] == flops["normal_equations"] + flops["gram"] + flops["solves"]


def test_als_iteration_ndcg_excludes_training_tracks():
    import als_iteration

    users = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    items = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0]], dtype=np.float32)
    train = np.array([[0, 0], [1, 2]])  # each playlist's best-scoring track is a training track

    first = als_iteration.ndcg_sample(users, items, train, np.array([[0, 1]]), np.array([0]))
    second = als_iteration.ndcg_sample(users, items, train, np.array([[0, 2]]), np.array([0]))

    assert first == 1.0  # track 1 ranks first once track 0 is excluded
    assert abs(second - 1 / np.log2(3)) < 1e-9  # track 2 ranks second


def test_peak_memory_of_a_process_tree_counts_a_page_shared_by_a_fork_once_in_pss():
    """A parent touches 200 MB, then forks a child that only reads it: RSS sums the shared pages twice, PSS once."""
    import common

    script = ("import os, time\nx = bytearray(200 * 2**20)\nfor i in range(0, len(x), 4096): x[i] = 1\n"
              "pid = os.fork()\nif pid == 0:\n    s = sum(x[::4096]); time.sleep(1.5); os._exit(0)\n"
              "os.waitpid(pid, 0)\n")

    measured = common.run_measured([sys.executable, "-c", script])

    assert measured.returncode == 0
    assert measured.peak_rss_mb > 350  # parent and child each count the 200 MB
    assert 150 < measured.peak_pss_mb < 300  # split between them: counted once
