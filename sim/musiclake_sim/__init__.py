"""musiclake_sim: the stand-ins for Spotify and the Million Playlist Dataset, for the demo, tests and benchmarks.

* :mod:`musiclake_sim.catalog` - a seeded synthetic catalog with learnable structure, and MPD slices made from it;
* :mod:`musiclake_sim.synthetic_mpd` - MPD slices at any scale, streamed slice by slice;
* :mod:`musiclake_sim.fake_server` - a local Spotify Web API server serving the catalog, with injectable faults.

The command line is ``musiclake-sim`` (:mod:`musiclake_sim.cli`). This package is its own distribution
(``musiclake-sim``, built from ``sim/setup.py``): neither the Glue wheel nor the extractor image ships it.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("musiclake-sim")
except PackageNotFoundError:  # pragma: no cover - run from a source tree that was not installed
    __version__ = "0+unknown"
