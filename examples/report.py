#!/usr/bin/env python3
"""Report on a scored experiment. All logic lives in ``vmevalkit.scoring.report``.

python examples/report.py --experiment pilot
python examples/report.py --experiment pilot --config report.json --max-videos-per-model 4
"""

import sys

from vmevalkit.scoring.report import main

if __name__ == "__main__":
    sys.exit(main())
