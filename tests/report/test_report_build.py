"""``musiclake report`` writes one self-contained page: every chart when the lake is complete, and a clear
"no data yet" section (not a crash) for what the jobs have not written yet."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from musiclake.report.build import CHARTS, SECTIONS

CURATED_ONLY = ("playlists", "playlist_tracks", "tracks", "artists", "albums", "job_runs", "processed_runs")


class _Elements(HTMLParser):
    """Collects chart figures, their images, no-data sections and every URL the page would load."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []
        self.images: list[str] = []
        self.no_data: list[str] = []
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "figure" and "chart" in (attributes.get("class") or "").split():
            self.charts.append(attributes.get("data-chart") or "")
        if tag == "div" and "no-data" in (attributes.get("class") or "").split():
            self.no_data.append(attributes.get("data-section") or "")
        if tag == "img":
            self.images.append(attributes.get("src") or "")
        if tag == "script":
            self.scripts += 1
        self.urls += [value for key, value in attrs if key in ("src", "href") and value and not value.startswith("#")]


def parse(path: Path) -> _Elements:
    elements = _Elements()
    elements.feed(path.read_text(encoding="utf-8"))
    return elements


def test_every_section_has_a_chart_on_the_full_lake(full_report: Path) -> None:
    page = parse(full_report)

    assert page.charts == list(CHARTS)
    assert len(CHARTS) == len(SECTIONS) == 10
    assert page.no_data == []
    assert all(src.startswith("data:image/png;base64,") and len(src) > 2000 for src in page.images)


def test_the_report_is_self_contained(full_report: Path) -> None:
    page = parse(full_report)

    assert all(url.startswith("data:") for url in page.urls), [u[:60] for u in page.urls if not u.startswith("data:")]
    assert page.scripts == 0
    assert not re.search(r"https?://", full_report.read_text(encoding="utf-8"))


def test_report_shows_the_numbers_of_the_queries(full_report: Path, full_lake) -> None:
    from musiclake.query.engine import LocalEngine

    with LocalEngine(full_lake.lake) as engine:
        top = engine.execute("SELECT track_name FROM tracks WHERE track_id = ("
                             "SELECT track_id FROM playlist_tracks WHERE item_type = 'track' GROUP BY track_id "
                             "ORDER BY count(DISTINCT playlist_id) DESC, count(*) DESC, track_id LIMIT 1)")
    text = full_report.read_text(encoding="utf-8")
    assert top.column("track_name")[0].as_py() in text
    assert "ndcg_at_10" in text and "NDCG@10, ALS vs popularity" in text


def test_sections_without_data_say_so_instead_of_failing(full_lake, tmp_path: Path) -> None:
    """A lake where train_als has not run: evaluations empty, no recommendations, no interactions."""
    import pyarrow as pa
    from deltalake import write_deltalake

    from musiclake.report.build import build_report

    lake = tmp_path / "lake"
    for name in CURATED_ONLY:
        shutil.copytree(Path(full_lake.lake) / name, lake / name)
    empty_evaluations = pa.table({"model_version": pa.array([], pa.string()), "split": pa.array([], pa.string()),
                                  "model": pa.array([], pa.string()), "params": pa.array([], pa.string()),
                                  "metric": pa.array([], pa.string()), "k": pa.array([], pa.int32()),
                                  "value": pa.array([], pa.float64()), "n_playlists": pa.array([], pa.int64()),
                                  "evaluated_at": pa.array([], pa.timestamp("us", tz="UTC"))})
    write_deltalake(str(lake / "evaluations"), empty_evaluations)

    path = build_report(str(lake), tmp_path / "out")

    page = parse(path)
    assert page.no_data == ["recommender-quality", "coverage-bias"]
    assert page.charts == [key for key in CHARTS if key not in page.no_data]
    text = path.read_text(encoding="utf-8")
    assert "the query recommender_quality returned no rows; run the train_als job first." in text
    assert ("the lake has no table interactions, recommendations; run the build_interactions and train_als jobs "
            "first.") in text


def test_cli_writes_the_report_and_prints_its_path(full_lake, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from musiclake.cli import main

    status = main(["report", "--lake_path", full_lake.lake, "--out", str(tmp_path / "out")])

    assert status == 0
    assert capsys.readouterr().out.strip() == f"report: {(tmp_path / 'out' / 'report.html').resolve()}"


def test_cli_on_a_lake_without_tables_exits_1_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from musiclake.cli import main

    status = main(["report", "--lake_path", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])

    assert status == 1
    assert "no Delta tables found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
