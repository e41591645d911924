-- Top 25 tracks: the tracks found in the most playlists (a "play" is one appearance of the track in a playlist).
-- Output: ranking (1 = most popular), track_id, track_name, artist_name, album_name, playlists (distinct playlists
-- containing the track), plays (appearances, counting repeats within a playlist).
WITH plays AS (
    SELECT track_id, count(DISTINCT playlist_id) AS playlists, count(*) AS plays
    FROM playlist_tracks
    WHERE item_type = 'track' AND track_id IS NOT NULL
    GROUP BY track_id
)
SELECT
    row_number() OVER (ORDER BY p.playlists DESC, p.plays DESC, p.track_id) AS ranking,
    p.track_id,
    t.track_name,
    t.artist_name,
    t.album_name,
    p.playlists,
    p.plays
FROM plays AS p
LEFT JOIN tracks AS t ON t.track_id = p.track_id
ORDER BY ranking
LIMIT 25
