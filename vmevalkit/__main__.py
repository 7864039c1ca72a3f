"""``python -m vmevalkit``: the same as the ``vmevalkit`` console script.

This is how the setup scripts run the install tools inside a model's virtualenv (``python -m vmevalkit local tiny
...``), where no console script is installed.
"""

import sys

from vmevalkit.cli.main import main

sys.exit(main())
