"""``python -m engines.emulator serve MODEL [flags]``."""

import sys

from engines.emulator.server import main

sys.exit(main())
