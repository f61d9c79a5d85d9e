"""``python -m cloudio``: the command line (see :mod:`cloudio.cli`)."""
import sys

from .cli import main

sys.exit(main())
