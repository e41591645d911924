"""``python -m musiclake_deploy ...`` is ``musiclake-deploy ...``."""

import sys

from musiclake_deploy.cli import main

sys.exit(main())
