"""``python -m clgrad.tune``: see ``clgrad.tune.cli``."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
