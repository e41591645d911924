"""runtime.concurrently: independent Spark actions run at the same time, in threads that keep the caller's job
group (so runtime.phase still counts their work), each waited for whether another failed or not."""

import threading
import time

import pytest

from musiclake import runtime


def test_calls_overlap_keep_the_job_group_and_return_results_by_name(spark):
    both_started = threading.Barrier(2, timeout=60)  # each call waits for the other: only passes if they overlap
    work: dict[str, runtime.SparkWork] = {}

    def count(n: int) -> tuple[int, str | None]:
        both_started.wait()
        return spark.range(n).count(), spark.sparkContext.getLocalProperty("spark.jobGroup.id")

    with runtime.phase(spark, "test", "together", work=work):
        results = runtime.concurrently({"ten": lambda: count(10), "twenty": lambda: count(20)})

    assert list(results) == ["ten", "twenty"]
    assert results == {"ten": (10, "test/together"), "twenty": (20, "test/together")}
    assert work["together"].jobs >= 2  # both calls' Spark jobs were counted in the caller's phase
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None  # restored after the phase


def test_a_failure_is_raised_after_every_other_call_finished(spark):
    finished: list[str] = []

    def slow() -> int:
        time.sleep(1.0)
        n = spark.range(5).count()
        finished.append("slow")
        return n

    def fails() -> int:
        raise ValueError("bad table")

    with pytest.raises(ValueError, match="bad table"):
        runtime.concurrently({"fails": fails, "slow": slow})
    assert finished == ["slow"]  # not left running behind the raised error


def test_one_call_or_one_worker_runs_in_this_thread():
    caller = threading.get_ident()
    assert runtime.concurrently({"only": threading.get_ident}) == {"only": caller}
    assert runtime.concurrently({"a": threading.get_ident, "b": threading.get_ident}, max_workers=1) == {
        "a": caller, "b": caller}


def test_a_phase_counts_its_own_work_not_that_of_an_earlier_phase_of_the_same_name(spark):
    """A job run again in one session (a test, a notebook) names its stages as before: each run's figures are its
    own, not the sum of every run so far."""
    counted = []
    for n in (3, 4):
        work: dict[str, runtime.SparkWork] = {}
        with runtime.phase(spark, "again", "stage", work=work):
            assert spark.range(n).count() == n
        counted.append((work["stage"].queries, work["stage"].jobs))
    assert counted[0] == counted[1] and min(counted[0]) >= 1
