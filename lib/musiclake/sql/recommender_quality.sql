-- Recommender quality: ALS against the popularity baseline on the test holdout of the latest evaluated model,
-- one row per metric (clicks: lower is better; every other metric: higher is better).
-- Output: model_version, metric, k, als (double), popularity (double), als_over_popularity (double, als /
-- popularity; null when the baseline is 0), higher_is_better (boolean), n_playlists (playlists evaluated).
WITH latest AS (
    SELECT max(model_version) AS model_version
    FROM evaluations
    WHERE split = 'test'
),
pivoted AS (
    SELECT
        e.model_version,
        e.metric,
        e.k,
        max(CASE WHEN e.model = 'als' THEN e.value END) AS als,
        max(CASE WHEN e.model = 'popularity' THEN e.value END) AS popularity,
        max(e.n_playlists) AS n_playlists
    FROM evaluations AS e
    INNER JOIN latest AS l ON l.model_version = e.model_version
    WHERE e.split = 'test'
    GROUP BY e.model_version, e.metric, e.k
)
SELECT
    model_version,
    metric,
    k,
    als,
    popularity,
    CASE WHEN popularity <> 0 THEN als / popularity END AS als_over_popularity,
    metric <> 'clicks' AS higher_is_better,
    n_playlists
FROM pivoted
ORDER BY metric, k
