-- New playlists (RecSys Challenge 2018 protocol) for the latest evaluated model: whole playlists held out of the
-- evaluated model's training, 0 (title only), 1, 5, 10, 25 or 100 seed tracks revealed, 500 tracks ranked; musiclake's
-- answer (ALS fold-in, or the title cold start for 0 seeds) against the popularity baseline.
-- Output: model_version, seed_order (first or random), seeds (int), metric, k, answer (als or title), ours (double),
-- popularity (double), ours_over_popularity (double; null when the baseline is 0), higher_is_better (boolean),
-- n_playlists (held-out playlists long enough for the category). One row per category and metric; no rows when the
-- latest model was trained without the protocol (train_als --new_playlist_eval).
WITH latest AS (
    SELECT max(model_version) AS model_version
    FROM evaluations
    WHERE split = 'test'
),
pivoted AS (
    SELECT
        e.model_version,
        e.split,
        e.metric,
        e.k,
        max(CASE WHEN e.model <> 'popularity' THEN e.model END) AS answer,
        max(CASE WHEN e.model <> 'popularity' THEN e.value END) AS ours,
        max(CASE WHEN e.model = 'popularity' THEN e.value END) AS popularity,
        max(e.n_playlists) AS n_playlists
    FROM evaluations AS e
    INNER JOIN latest AS l ON l.model_version = e.model_version
    WHERE e.split LIKE 'new_playlists_%'
    GROUP BY e.model_version, e.split, e.metric, e.k
)
SELECT
    model_version,
    regexp_replace(regexp_replace(split, '^new_playlists_', ''), '_[0-9]+$', '') AS seed_order,
    CAST(regexp_replace(split, '^new_playlists_[a-z]+_', '') AS integer) AS seeds,
    metric,
    k,
    answer,
    ours,
    popularity,
    CASE WHEN popularity <> 0 THEN ours / popularity END AS ours_over_popularity,
    metric <> 'clicks' AS higher_is_better,
    n_playlists
FROM pivoted
ORDER BY seed_order, seeds, metric
