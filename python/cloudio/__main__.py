"""``python -m cloudio``: the command line (see :mod:`cloudio.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
