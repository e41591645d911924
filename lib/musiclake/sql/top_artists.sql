-- Top 25 artists (primary artist of each track): the artists found in the most playlists.
-- Output: ranking (1 = most popular), artist_id, artist_name, playlists (distinct playlists with any of the artist's
-- tracks), plays (track appearances in playlists), tracks (distinct tracks of the artist played).
WITH plays AS (
    SELECT
        t.artist_id,
        count(DISTINCT pt.playlist_id) AS playlists,
        count(*) AS plays,
        count(DISTINCT pt.track_id) AS tracks
    FROM playlist_tracks AS pt
    INNER JOIN tracks AS t ON t.track_id = pt.track_id
    WHERE pt.item_type = 'track' AND t.artist_id IS NOT NULL
    GROUP BY t.artist_id
),
track_names AS (
    SELECT artist_id, max(artist_name) AS artist_name
    FROM tracks
    GROUP BY artist_id
)
SELECT
    row_number() OVER (ORDER BY p.playlists DESC, p.plays DESC, p.artist_id) AS ranking,
    p.artist_id,
    coalesce(a.artist_name, n.artist_name) AS artist_name,
    p.playlists,
    p.plays,
    p.tracks
FROM plays AS p
LEFT JOIN artists AS a ON a.artist_id = p.artist_id
LEFT JOIN track_names AS n ON n.artist_id = p.artist_id
ORDER BY ranking
LIMIT 25
