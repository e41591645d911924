"""musiclake extractor: Spotify Web API and Million Playlist Dataset into the raw landing zone."""
