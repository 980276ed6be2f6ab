"""`python -m workers.cli` (what `.venv/bin/regie` runs)."""

import sys

from workers.cli.app import main

sys.exit(main())
