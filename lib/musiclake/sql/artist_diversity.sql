-- Artist diversity per playlist: distinct (primary) artists / tracks of each playlist, as a histogram in tenths
-- (a playlist of one artist is near 0, one where every track has its own artist is 1; 1.0 falls in the last bucket).
-- Output: diversity_from (double, inclusive), diversity_to (double), playlists (bigint), share (double, of the
-- playlists with tracks), avg_tracks (double), avg_artists (double), avg_diversity (double) within the bucket.
WITH per_playlist AS (
    SELECT pt.playlist_id, count(*) AS tracks, count(DISTINCT t.artist_id) AS artists
    FROM playlist_tracks AS pt
    INNER JOIN tracks AS t ON t.track_id = pt.track_id
    WHERE pt.item_type = 'track'
    GROUP BY pt.playlist_id
),
bucketed AS (
    SELECT
        tracks,
        artists,
        CAST(artists AS DOUBLE) / tracks AS diversity,
        least(CAST(floor(CAST(artists * 10 AS DOUBLE) / tracks) AS INTEGER), 9) AS bucket
    FROM per_playlist
)
SELECT
    bucket / 10e0 AS diversity_from,
    (bucket + 1) / 10e0 AS diversity_to,
    count(*) AS playlists,
    CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS share,
    avg(CAST(tracks AS DOUBLE)) AS avg_tracks,
    avg(CAST(artists AS DOUBLE)) AS avg_artists,
    avg(diversity) AS avg_diversity
FROM bucketed
GROUP BY bucket
ORDER BY diversity_from
