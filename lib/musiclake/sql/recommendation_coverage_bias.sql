-- Catalog coverage and popularity bias of the latest model's recommendations (one row). Popularity of a track =
-- the playlists containing it (interactions); the head = the 10% most popular tracks. Coverage: share of the
-- recommender's catalog (tracks with interactions) recommended to at least one playlist; the popularity baseline,
-- which recommends the same top k to everyone, covers k tracks. Bias: mean popularity of the recommended tracks
-- (per recommendation) against the mean over catalog tracks and over interactions (what playlists hold), and the
-- share of recommendations (vs of interactions) that go to head tracks.
-- Output: model_version, playlists, recommendations, k (longest list), recommended_tracks, catalog_tracks,
-- catalog_coverage, popularity_baseline_coverage, avg_popularity_recommended, avg_popularity_catalog,
-- avg_popularity_interactions, popularity_bias (recommended / catalog), head_share_recommendations,
-- head_share_interactions.
WITH latest AS (
    SELECT max(model_version) AS model_version
    FROM recommendations
),
recs AS (
    SELECT r.playlist_id, r.track_id, r.rank
    FROM recommendations AS r
    INNER JOIN latest AS l ON l.model_version = r.model_version
),
popularity AS (
    SELECT track_id, count(*) AS playlists
    FROM interactions
    GROUP BY track_id
),
ranked AS (
    SELECT
        track_id,
        playlists,
        row_number() OVER (ORDER BY playlists DESC, track_id) <= ceil(count(*) OVER () * 10 / 100e0) AS is_head
    FROM popularity
),
catalog AS (
    SELECT
        count(*) AS catalog_tracks,
        avg(CAST(playlists AS DOUBLE)) AS avg_popularity_catalog,
        sum(CAST(playlists AS DOUBLE) * playlists) / nullif(sum(playlists), 0) AS avg_popularity_interactions,
        CAST(sum(CASE WHEN is_head THEN playlists ELSE 0 END) AS DOUBLE) / nullif(sum(playlists), 0)
            AS head_share_interactions
    FROM ranked
),
recommended AS (
    SELECT
        count(DISTINCT r.playlist_id) AS playlists,
        count(r.track_id) AS recommendations,
        max(r.rank) AS k,
        count(DISTINCT r.track_id) AS recommended_tracks,
        avg(CAST(p.playlists AS DOUBLE)) AS avg_popularity_recommended,
        avg(CASE WHEN p.is_head THEN 1e0 ELSE 0e0 END) AS head_share_recommendations
    FROM recs AS r
    LEFT JOIN ranked AS p ON p.track_id = r.track_id
)
SELECT
    l.model_version,
    r.playlists,
    r.recommendations,
    r.k,
    r.recommended_tracks,
    c.catalog_tracks,
    CAST(r.recommended_tracks AS DOUBLE) / nullif(c.catalog_tracks, 0) AS catalog_coverage,
    CAST(least(r.k, c.catalog_tracks) AS DOUBLE) / nullif(c.catalog_tracks, 0) AS popularity_baseline_coverage,
    r.avg_popularity_recommended,
    c.avg_popularity_catalog,
    c.avg_popularity_interactions,
    r.avg_popularity_recommended / nullif(c.avg_popularity_catalog, 0e0) AS popularity_bias,
    r.head_share_recommendations,
    c.head_share_interactions
FROM latest AS l
CROSS JOIN recommended AS r
CROSS JOIN catalog AS c
