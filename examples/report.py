#!/usr/bin/env python3
"""Report on a scored experiment: ``vmevalkit report``. All logic lives in ``vmevalkit.scoring.report`` (the
command line in ``vmevalkit.cli.report``).

python examples/report.py --experiment pilot
python examples/report.py --experiment pilot --config report.json --max-videos-per-model 4
"""

import sys

from vmevalkit.cli.main import report_main

if __name__ == "__main__":
    sys.exit(report_main())
