-- Catalog growth per ingestion run: for each landing run curated (processed_runs, in the order processed, then by
-- the start time in the run id <source>-<UTC start>-<suffix>), the tracks, artists, albums and playlists whose
-- current version was read from that run, and the running totals. An entity counts for the latest run that
-- observed it, so the running total after the last run is the size of the catalog.
-- Output: run_order (1 = first), run_id, source, processed_at, records (in the run's manifest), tracks, artists,
-- albums, playlists, total_tracks, total_artists, total_albums, total_playlists.
WITH track_runs AS (SELECT run_id, count(*) AS n FROM tracks GROUP BY run_id),
artist_runs AS (SELECT run_id, count(*) AS n FROM artists GROUP BY run_id),
album_runs AS (SELECT run_id, count(*) AS n FROM albums GROUP BY run_id),
playlist_runs AS (SELECT run_id, count(*) AS n FROM playlists GROUP BY run_id),
per_run AS (
    SELECT
        r.run_id,
        r.source,
        r.processed_at,
        r.records,
        split_part(r.run_id, '-', 2) AS run_started,
        coalesce(t.n, 0) AS tracks,
        coalesce(ar.n, 0) AS artists,
        coalesce(al.n, 0) AS albums,
        coalesce(p.n, 0) AS playlists
    FROM processed_runs AS r
    LEFT JOIN track_runs AS t ON t.run_id = r.run_id
    LEFT JOIN artist_runs AS ar ON ar.run_id = r.run_id
    LEFT JOIN album_runs AS al ON al.run_id = r.run_id
    LEFT JOIN playlist_runs AS p ON p.run_id = r.run_id
)
SELECT
    row_number() OVER (ORDER BY processed_at, run_started, run_id) AS run_order,
    run_id,
    source,
    processed_at,
    records,
    tracks,
    artists,
    albums,
    playlists,
    CAST(sum(tracks) OVER (ORDER BY processed_at, run_started, run_id ROWS UNBOUNDED PRECEDING) AS BIGINT)
        AS total_tracks,
    CAST(sum(artists) OVER (ORDER BY processed_at, run_started, run_id ROWS UNBOUNDED PRECEDING) AS BIGINT)
        AS total_artists,
    CAST(sum(albums) OVER (ORDER BY processed_at, run_started, run_id ROWS UNBOUNDED PRECEDING) AS BIGINT)
        AS total_albums,
    CAST(sum(playlists) OVER (ORDER BY processed_at, run_started, run_id ROWS UNBOUNDED PRECEDING) AS BIGINT)
        AS total_playlists
FROM per_run
ORDER BY run_order
