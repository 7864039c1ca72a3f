"""``python -m vmevalkit``: the same as the ``vmevalkit`` console script."""

import sys

from vmevalkit.cli.main import main

sys.exit(main())
