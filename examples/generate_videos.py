#!/usr/bin/env python3
"""Run video models over the task dataset: ``vmevalkit generate``. All logic lives in ``vmevalkit.cli.generate``.

python examples/generate_videos.py --model oracle-solution static-first-frame
python examples/generate_videos.py --list-models
"""

import sys

from vmevalkit.cli.main import generate_main

if __name__ == "__main__":
    sys.exit(generate_main())
