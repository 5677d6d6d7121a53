"""``python -m clinserve``: the command-line tool."""

import sys

from clinserve.cli.main import main

sys.exit(main())
