"""The JVM-free commands: ``recommend``, ``similar``, ``tables`` (processes that never load pyspark), ``serve``."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from serve_lake import VERSION

from musiclake.cli import build_parser, main
from musiclake.serve import command


def _run_without_spark(*argv: str) -> tuple[str, str]:
    """Run the ``musiclake ARGV`` command in a fresh interpreter; its stdout and the pyspark/pandas modules it
    loaded (none expected)."""
    code = textwrap.dedent(f"""
        import sys
        from musiclake.cli import main
        status = main({list(argv)!r})
        loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j'))
        print('LOADED', loaded, 'STATUS', status)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    out, _, tail = result.stdout.rpartition("LOADED ")
    return out, tail.strip()


def test_recommend_prints_the_playlists_list_without_loading_spark(tiny_lake):
    out, loaded = _run_without_spark("recommend", "--lake_path", str(tiny_lake), "--playlist", "mpd:0", "--k", "2")

    assert loaded == "[] STATUS 0"
    lines = out.splitlines()
    assert lines[0] == 'Recommendations for playlist mpd:0 "List 0"'
    assert lines[2].split() == ["1", "Song", "1", "artist", "1", "0.9", "t1"]
    assert lines[3].split() == ["2", "Song", "4", "artist", "4", "0.5", "t4"]


def test_recommend_folds_in_seed_tracks_without_loading_spark(tiny_lake):
    out, loaded = _run_without_spark("recommend", "--lake_path", str(tiny_lake), "--tracks", "t0,spotify:track:zz",
                                     "--k", "2")

    assert loaded == "[] STATUS 0"
    assert out.splitlines()[:2] == [
        f"New playlist from 1 seed track(s), folded into ALS model v={VERSION} (no retraining)",
        "  note: unknown to the model, ignored: zz"]


def test_similar_prints_the_nearest_tracks_without_loading_spark(tiny_lake):
    out, loaded = _run_without_spark("similar", "--lake_path", str(tiny_lake), "--track", "t1", "--k", "3")

    assert loaded == "[] STATUS 0"
    assert [line.split()[-1] for line in out.splitlines()[2:]] == ["t0", "t4", "t3"]


def test_tables_lists_every_table_and_the_job_runs_without_loading_spark(tiny_lake):
    out, loaded = _run_without_spark("tables", "--lake_path", str(tiny_lake))

    assert loaded == "[] STATUS 0"
    lines = out.splitlines()
    assert lines[0] == f"{'table':<16}{'rows':>10}{'version':>9}  partitioned by"
    assert lines[1] == f"{'playlists':<16}{4:>10}{0:>9}  source"
    assert lines[3] == f"{'tracks':<16}{6:>10}{0:>9}  -"
    assert lines[9] == f"{'interactions':<16}{9:>10}{0:>9}  -"
    assert lines[6] == f"{'quarantine':<16}{'-':>10}{'-':>9}  (not created yet)"
    assert len(lines) == 15  # no job_runs table: no run list


def _write_job_runs(lake: Path, runs: dict[str, list]) -> None:
    """A ``job_runs`` table of two runs: ``runs`` holds each column but ``job_run_id`` and ``started_at``, with
    ``finished_at`` as naive UTC datetimes and ``records_written`` as lists of (table, rows) pairs."""
    from datetime import UTC, datetime

    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(lake / "job_runs"), pa.table({
        "job_run_id": ["a", "b"], "job_name": runs["job_name"], "status": runs["status"],
        "started_at": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("us", "UTC")),
        "finished_at": pa.array([t.replace(tzinfo=UTC) for t in runs["finished_at"]], pa.timestamp("us", "UTC")),
        "records_read": pa.array(runs["records_read"], pa.int64()),
        "records_written": pa.array(runs["records_written"], pa.map_(pa.string(), pa.int64())),
        "records_quarantined": pa.array(runs["records_quarantined"], pa.int64()), "message": runs["message"],
    }))


def test_the_job_runs_are_listed_newest_first(tmp_path, capsys):
    from datetime import datetime

    _write_job_runs(tmp_path, {
        "job_name": ["raw_to_curated", "train_als"], "status": ["succeeded", "failed"],
        "finished_at": [datetime(2026, 1, 1, 10), datetime(2026, 1, 2, 9, 30)], "records_read": [10, None],
        "records_written": [[("tracks", 3), ("playlists", 2)], None], "records_quarantined": [1, 0],
        "message": [None, "boom"],
    })

    assert command.run_tables(argparse.Namespace(lake_path=str(tmp_path), runs=8)) == 0

    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [
        "latest job runs:",
        f"  2026-01-02 09:30:00  {'train_als':<20}{'failed':<10}read {'-':>8}  written {0:>8}  "
        f"quarantined {0:>5}  boom",
        f"  2026-01-01 10:00:00  {'raw_to_curated':<20}{'succeeded':<10}read {10:>8}  written {5:>8}  "
        f"quarantined {1:>5}  ",
    ]


def test_a_job_name_longer_than_its_column_widens_the_column(tmp_path, capsys):
    from datetime import datetime

    names = ["raw_to_interactions/build_interactions", "train_als"]
    _write_job_runs(tmp_path, {
        "job_name": names, "status": ["succeeded", "skipped"],
        "finished_at": [datetime(2026, 1, 2), datetime(2026, 1, 1)], "records_read": [1, 2],
        "records_written": [None, None], "records_quarantined": [0, 0], "message": ["", ""],
    })

    assert command.run_tables(argparse.Namespace(lake_path=str(tmp_path), runs=8)) == 0

    listed = capsys.readouterr().out.splitlines()[-2:]
    assert [line.split()[2:4] for line in listed] == [[names[0], "succeeded"], [names[1], "skipped"]]
    assert listed[0].index("succeeded") == listed[1].index("skipped")  # one column for the status


def test_recommend_without_a_model_says_how_to_train_one(tmp_path, capsys):
    assert main(["recommend", "--lake_path", str(tmp_path), "--playlist", "mpd:0"]) == 1
    assert "train_als" in capsys.readouterr().err


def test_similar_to_an_unknown_track_is_an_error_message(tiny_lake, capsys):
    assert main(["similar", "--lake_path", str(tiny_lake), "--track", "nope"]) == 1
    assert "unknown to model" in capsys.readouterr().err


def test_serve_without_a_model_exits_with_the_reason(tmp_path, capsys):
    assert main(["serve", "--lake_path", str(tmp_path), "--port", "1"]) == 1
    assert "train_als" in capsys.readouterr().err


def test_the_parsers_take_the_documented_options(monkeypatch):
    monkeypatch.setenv("MUSICLAKE_LAKE_PATH", "/lake")
    parser = build_parser()

    serve = parser.parse_args(["serve", "--port", "9000", "--no_access_log", "--check_interval", "5"])
    similar = parser.parse_args(["similar", "--track", "t1", "--k", "7"])
    recommend = parser.parse_args(["recommend", "--playlist", "mpd:1"])

    assert (serve.host, serve.port, serve.access_log, serve.check_interval, serve.blas_threads, serve.lake_path) == (
        "127.0.0.1", 9000, False, 5.0, 1, "/lake")
    assert (similar.track, similar.k, similar.handler) == ("t1", 7, command.run_similar)
    assert (recommend.k, recommend.handler, parser.parse_args(["tables"]).handler) == (
        20, command.run_recommend, command.run_tables)


@pytest.mark.parametrize("argv", [["similar"], ["similar", "--track", "t1", "--k", "0"], ["serve", "--port", "x"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
