-- Popularity long tail: the share of all plays (track appearances in playlists) that goes to the top 1%, 5%, 10%,
-- 20%, 50% and 100% most played tracks (among tracks played at least once; a group has at least one track).
-- Output: top_percent (int), tracks (bigint, tracks in the group), plays (bigint), share_of_plays (double, 0..1).
WITH plays AS (
    SELECT track_id, count(*) AS plays
    FROM playlist_tracks
    WHERE item_type = 'track' AND track_id IS NOT NULL
    GROUP BY track_id
),
ranked AS (
    SELECT
        plays,
        row_number() OVER (ORDER BY plays DESC, track_id) AS popularity_rank,
        count(*) OVER () AS n_tracks,
        sum(plays) OVER () AS total_plays
    FROM plays
),
groups AS (
    SELECT top_percent FROM (VALUES 1, 5, 10, 20, 50, 100) AS g (top_percent)
)
SELECT
    g.top_percent,
    count(*) AS tracks,
    CAST(sum(r.plays) AS BIGINT) AS plays,
    CAST(sum(r.plays) AS DOUBLE) / max(r.total_plays) AS share_of_plays
FROM groups AS g
INNER JOIN ranked AS r ON r.popularity_rank <= ceil(r.n_tracks * g.top_percent / 100e0)
GROUP BY g.top_percent
ORDER BY g.top_percent
