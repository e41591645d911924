-- Top 25 albums: the albums whose tracks are found in the most playlists.
-- Output: ranking (1 = most popular), album_id, album_name, artist_name (primary artist of the album's tracks),
-- playlists (distinct playlists with any track of the album), plays (track appearances), tracks (distinct tracks
-- of the album played).
WITH plays AS (
    SELECT
        t.album_id,
        count(DISTINCT pt.playlist_id) AS playlists,
        count(*) AS plays,
        count(DISTINCT pt.track_id) AS tracks
    FROM playlist_tracks AS pt
    INNER JOIN tracks AS t ON t.track_id = pt.track_id
    WHERE pt.item_type = 'track' AND t.album_id IS NOT NULL
    GROUP BY t.album_id
),
track_names AS (
    SELECT album_id, max(album_name) AS album_name, max(artist_name) AS artist_name
    FROM tracks
    GROUP BY album_id
)
SELECT
    row_number() OVER (ORDER BY p.playlists DESC, p.plays DESC, p.album_id) AS ranking,
    p.album_id,
    coalesce(a.album_name, n.album_name) AS album_name,
    n.artist_name,
    p.playlists,
    p.plays,
    p.tracks
FROM plays AS p
LEFT JOIN albums AS a ON a.album_id = p.album_id
LEFT JOIN track_names AS n ON n.album_id = p.album_id
ORDER BY ranking
LIMIT 25
