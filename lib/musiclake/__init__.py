"""musiclake: shared library every Glue job is built from."""

from pathlib import Path

__version__ = (Path(__file__).parent / "VERSION").read_text().strip()
