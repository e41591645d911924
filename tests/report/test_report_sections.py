"""Section rendering on hand-made query rows (no lake, no Spark): edge cases the small fixture lake lacks."""

from __future__ import annotations

import datetime as dt

from musiclake.report.build import LATEST_RUNS, SECTIONS, QueryData, render_section

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _section(key: str):
    return next(section for section in SECTIONS if section.key == key)


def _job_run(index: int, status: str = "succeeded") -> dict:
    return {"run_order": index + 1, "job_run_id": f"run{index}", "job_name": "raw_to_curated", "status": status,
            "started_at": T0 + dt.timedelta(hours=index), "finished_at": T0 + dt.timedelta(hours=index, minutes=3),
            "landing_runs": 1, "records_read": 100 + index, "records_written": 90, "records_quarantined": index % 3}


def test_pipeline_health_charts_the_latest_runs_and_counts_failures_over_all() -> None:
    rows = [_job_run(i, "failed" if i in (2, 57) else "succeeded") for i in range(60)]

    html = render_section(_section("pipeline-health"), {"pipeline_health": QueryData(rows)})

    assert 'id="chart-pipeline-health"' in html
    assert f"60 job runs, 2 failed; the latest {LATEST_RUNS} of 60 job runs" in html
    assert html.count("<tr>") == LATEST_RUNS + 1  # header + the latest runs
    assert html.count('class="status-failed"') == 1  # run 57 is among the latest 30, run 2 is not


def test_catalog_growth_with_many_runs_renders() -> None:
    rows = [{"run_order": i + 1, "run_id": f"mpd-2026010{i % 9}T000000Z-{i:08x}", "source": "mpd",
             "processed_at": T0, "records": 10, "tracks": 5, "artists": 1, "albums": 1, "playlists": 10,
             "total_tracks": 5 * (i + 1), "total_artists": i + 1, "total_albums": i + 1,
             "total_playlists": 10 * (i + 1)}
            for i in range(40)]

    html = render_section(_section("catalog-growth"), {"catalog_growth": QueryData(rows)})

    assert 'id="chart-catalog-growth"' in html and "the latest 30 of 40 landing runs" in html


def test_recommender_quality_without_a_baseline_value_still_renders() -> None:
    rows = [{"model_version": "v1", "metric": "ndcg_at_10", "k": 10, "als": 0.3, "popularity": None,
             "als_over_popularity": None, "higher_is_better": True, "n_playlists": 5}]

    html = render_section(_section("recommender-quality"), {"recommender_quality": QueryData(rows)})

    assert 'id="chart-recommender-quality"' in html and "<td>yes</td>" in html


def test_coverage_without_recommendations_is_no_data() -> None:
    row = {"model_version": None, "playlists": 0, "recommendations": 0, "k": None, "recommended_tracks": 0,
           "catalog_tracks": 10, "catalog_coverage": 0.0, "popularity_baseline_coverage": None,
           "avg_popularity_recommended": None, "avg_popularity_catalog": 2.0, "avg_popularity_interactions": 3.0,
           "popularity_bias": None, "head_share_recommendations": None, "head_share_interactions": 0.4}

    html = render_section(_section("coverage-bias"), {"recommendation_coverage_bias": QueryData([row])})

    assert 'class="no-data"' in html and "chart-" not in html


def test_text_from_the_lake_is_escaped() -> None:
    rows = [{"ranking": 1, "track_id": "x", "track_name": "<script>alert(1)</script>", "artist_name": "A & B",
             "album_name": None, "playlists": 3, "plays": 4}]

    html = render_section(_section("top-tracks"), {"top_tracks": QueryData(rows)})

    assert "<script>" not in html and "&lt;script&gt;" in html and "A &amp; B" in html


def _quality_row() -> dict:
    return {"model_version": "v1", "metric": "ndcg_at_10", "k": 10, "als": 0.3, "popularity": 0.1,
            "als_over_popularity": 3.0, "higher_is_better": True, "n_playlists": 5}


def test_recommender_quality_shows_the_new_playlist_categories() -> None:
    rows = [{"model_version": "v1", "seed_order": "first", "seeds": seeds, "metric": metric, "k": 500,
             "answer": "title" if seeds == 0 else "als", "ours": 0.2 + seeds / 1000, "popularity": 0.1,
             "ours_over_popularity": 2.0, "higher_is_better": metric != "clicks", "n_playlists": 40 - seeds // 5}
            for seeds in (0, 1, 5, 10, 25, 100) for metric in ("r_precision", "ndcg_at_500", "clicks", "map_at_10")]

    html = render_section(_section("recommender-quality"), {
        "recommender_quality": QueryData([_quality_row()]), "new_playlist_quality": QueryData(rows)})

    table = html[html.index('id="table-new-playlists"'):]
    assert table.count("<tr>") == 1 + 6  # header + one row per category
    assert "<td>title</td>" in table and table.count("<td>als</td>") == 5
    assert "<td class=\"num\">0.300</td>" in table  # 100 seeds: 0.2 + 0.1
    assert "map_at_10" not in table and "MAP" not in table  # only the challenge metrics and NDCG@10


def test_recommender_quality_without_new_playlist_rows_says_the_protocol_did_not_run() -> None:
    html = render_section(_section("recommender-quality"), {
        "recommender_quality": QueryData([_quality_row()]), "new_playlist_quality": QueryData([])})

    assert 'id="chart-recommender-quality"' in html and "Not evaluated for this model" in html
    assert 'class="no-data"' not in html
