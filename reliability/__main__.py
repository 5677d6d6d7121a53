"""``python -m reliability``: see :mod:`reliability.runner`."""

import sys

from reliability.runner import main

sys.exit(main())
