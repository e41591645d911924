-- Pipeline health: what every job run read, wrote and quarantined (job_runs), oldest first.
-- Output: run_order (1 = first), job_run_id, job_name, status, started_at, finished_at, landing_runs (landing runs
-- processed), records_read, records_written (rows inserted or updated, summed over the tables written),
-- records_quarantined.
SELECT
    row_number() OVER (ORDER BY started_at, job_run_id) AS run_order,
    job_run_id,
    job_name,
    status,
    started_at,
    finished_at,
    CASE WHEN landing_runs IS NULL THEN 0 ELSE cardinality(landing_runs) END AS landing_runs,
    coalesce(records_read, 0) AS records_read,
    coalesce(reduce(map_values(records_written), CAST(0 AS BIGINT), (s, x) -> s + x, s -> s), 0) AS records_written,
    coalesce(records_quarantined, 0) AS records_quarantined
FROM job_runs
ORDER BY run_order
