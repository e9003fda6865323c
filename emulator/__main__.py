"""``python -m emulator serve MODEL [flags]``."""

import sys

from emulator.server import main

sys.exit(main())
