"""``python -m musiclake_sim ...`` is ``musiclake-sim ...``."""

import sys

from musiclake_sim.cli import main

sys.exit(main())
