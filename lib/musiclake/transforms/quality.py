"""Data-quality checks run on a batch before anything is written: a failed check fails the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


class DataQualityError(RuntimeError):
    """One or more checks failed; no table was changed."""

    def __init__(self, failures: Sequence[CheckResult]) -> None:
        lines = "\n".join(f"  - {f.name}: {f.detail}" for f in failures)
        super().__init__(f"data-quality checks failed, no table was changed:\n{lines}")
        self.failures = list(failures)


def keys_unique_not_null(df: DataFrame, keys: Sequence[str], name: str) -> CheckResult:
    """The key columns are never null and never repeat."""
    null_key = F.lit(False)
    for key in keys:
        null_key = null_key | F.col(key).isNull()
    per_key = df.groupBy(*keys).agg(F.count(F.lit(1)).alias("n"), F.max(null_key).alias("has_null"))
    totals = per_key.agg(
        F.sum(F.when(F.col("has_null"), F.col("n")).otherwise(0)).alias("nulls"),
        F.sum(F.when(~F.col("has_null") & (F.col("n") > 1), 1).otherwise(0)).alias("duplicates"),
    ).first()
    nulls, duplicates = int(totals["nulls"] or 0), int(totals["duplicates"] or 0)
    passed = nulls == 0 and duplicates == 0
    return CheckResult(f"{name}: keys {', '.join(keys)} unique and not null", passed,
                       f"{nulls} rows with a null key, {duplicates} duplicated keys")


def references_exist(child: DataFrame, parent: DataFrame, key: str, name: str) -> CheckResult:
    """Every non-null ``child.key`` exists in ``parent.key`` (referential integrity)."""
    orphans = (
        child.filter(F.col(key).isNotNull()).select(key).distinct().join(parent.select(key), on=key, how="left_anti")
    )
    count = orphans.count()
    sample = [r[key] for r in orphans.limit(5).collect()] if count else []
    return CheckResult(f"{name}: every {key} exists", count == 0, f"{count} missing, e.g. {sample}")


def counts_match_manifests(read_per_run: dict[str, int], manifest_per_run: dict[str, int]) -> CheckResult:
    """Records read from each landing run equal what its manifest lists (nothing lost, nothing extra)."""
    mismatched = {
        run: (manifest_per_run.get(run, 0), read_per_run.get(run, 0))
        for run in set(read_per_run) | set(manifest_per_run)
        if read_per_run.get(run, 0) != manifest_per_run.get(run, 0)
    }
    detail = "; ".join(f"{run}: manifest {m}, read {r}" for run, (m, r) in sorted(mismatched.items()))
    return CheckResult("records read match the manifests", not mismatched,
                       detail or "all runs match")


def raise_on_failure(results: Sequence[CheckResult]) -> None:
    failures = [r for r in results if not r.passed]
    if failures:
        raise DataQualityError(failures)
