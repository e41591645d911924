"""Data-quality checks run on a batch before anything is written: a failed check fails the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    rows: int | None = field(default=None, compare=False)  # the rows a key check read (its frame's count)


class DataQualityError(RuntimeError):
    """One or more checks failed; no table was changed."""

    def __init__(self, failures: Sequence[CheckResult]) -> None:
        lines = "\n".join(f"  - {f.name}: {f.detail}" for f in failures)
        super().__init__(f"data-quality checks failed, no table was changed:\n{lines}")
        self.failures = list(failures)


def key_check(df: DataFrame, keys: Sequence[str], name: str) -> DataFrame:
    """The check that the key columns are never null and never repeat, as a one-row DataFrame (not run yet:
    see :func:`evaluate`); it also counts the rows (``rows``), which spares the caller a query of its own."""
    null_key = F.lit(False)
    for key in keys:
        null_key = null_key | F.col(key).isNull()
    per_key = df.groupBy(*keys).agg(F.count(F.lit(1)).alias("n"), F.max(null_key).alias("has_null"))
    nulls = F.coalesce(F.sum(F.when(F.col("has_null"), F.col("n")).otherwise(0)), F.lit(0))
    duplicates = F.coalesce(F.sum(F.when(~F.col("has_null") & (F.col("n") > 1), 1).otherwise(0)), F.lit(0))
    return per_key.agg(
        F.lit(f"{name}: keys {', '.join(keys)} unique and not null").alias("name"),
        ((nulls == 0) & (duplicates == 0)).alias("passed"),
        F.format_string("%d rows with a null key, %d duplicated keys", nulls, duplicates).alias("detail"),
        F.coalesce(F.sum("n"), F.lit(0)).alias("rows"),
    )


def reference_check(child: DataFrame, parent: DataFrame, key: str, name: str) -> DataFrame:
    """The check that every non-null ``child.key`` exists in ``parent.key`` (referential integrity), as a
    one-row DataFrame (see :func:`evaluate`)."""
    orphans = (
        child.filter(F.col(key).isNotNull()).select(key).distinct().join(parent.select(key), on=key, how="left_anti")
    )
    count = F.count(F.lit(1))
    return orphans.agg(
        F.lit(f"{name}: every {key} exists").alias("name"),
        (count == 0).alias("passed"),
        F.when(count == 0, F.lit("0 missing"))
        .otherwise(F.format_string("%d missing, e.g. %s", count, F.min(key))).alias("detail"),
        F.lit(None).cast("long").alias("rows"),
    )


def evaluate(checks: Sequence[DataFrame]) -> list[CheckResult]:
    """Run lazily built checks together: one query, one small collect (a row per check)."""
    if not checks:
        return []
    union = checks[0]
    for more in checks[1:]:
        union = union.unionByName(more)
    return [CheckResult(r["name"], bool(r["passed"]), r["detail"], r["rows"])
            for r in union.collect()]  # small: a row per check


def keys_unique_not_null(df: DataFrame, keys: Sequence[str], name: str) -> CheckResult:
    """The key columns are never null and never repeat."""
    return evaluate([key_check(df, keys, name)])[0]


def references_exist(child: DataFrame, parent: DataFrame, key: str, name: str) -> CheckResult:
    """Every non-null ``child.key`` exists in ``parent.key`` (referential integrity)."""
    return evaluate([reference_check(child, parent, key, name)])[0]


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
