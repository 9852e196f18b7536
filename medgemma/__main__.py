"""`python -m medgemma <verb>`: see medgemma/cli.py."""

import sys

from medgemma.cli import main

sys.exit(main())
