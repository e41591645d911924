"""musiclake-sim: the local stand-ins for Spotify and the MPD (``musiclake_sim``), apart from the Glue wheel.

The demo, the tests and the benchmarks use it; the Glue jobs and the extractor image never do, so it is its own
distribution. Its version is the project's (``lib/musiclake/VERSION``). Install it from the repository root with
``pip install ./sim`` (``make venv`` installs it editable). It needs numpy only; it imports nothing from
``musiclake`` or ``musiclake_extract``.
"""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
VERSION = (HERE.parent / "lib" / "musiclake" / "VERSION").read_text().strip()

setup(
    name="musiclake-sim",
    version=VERSION,
    description="Local Spotify Web API server, synthetic catalog and MPD generator for musiclake's demo and tests",
    python_requires=">=3.11",
    packages=["musiclake_sim"],
    install_requires=["numpy>=2.3,<3"],
    entry_points={"console_scripts": ["musiclake-sim=musiclake_sim.cli:main"]},
)
