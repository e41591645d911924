-- Playlist length distribution: how many playlists have 0-9, 10-19, 20-29, ... items (stored version).
-- Output: length_from (int, inclusive), length_to (int, inclusive), playlists (bigint), share (double, of all playlists).
WITH lengths AS (
    SELECT coalesce(num_tracks, 0) AS n
    FROM playlists
)
SELECT
    n - n % 10 AS length_from,
    n - n % 10 + 9 AS length_to,
    count(*) AS playlists,
    CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS share
FROM lengths
GROUP BY n - n % 10
ORDER BY length_from
