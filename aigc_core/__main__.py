"""`python -m aigc_core ...`: see aigc_core.cli."""

import sys

from aigc_core.cli import main

sys.exit(main())
