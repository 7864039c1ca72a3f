#!/usr/bin/env python3
"""Score every finished generation of an experiment, resumably: ``vmevalkit score``. All logic lives in
``vmevalkit.cli.score``.

python examples/score_videos.py --scorer frame-match --experiment pilot
python examples/score_videos.py --scorer-class-path my_pkg.scorers:MyScorer --scorer-score-kwargs-json '{"frames":16}'
python examples/score_videos.py --list-scorers
"""

import sys

from vmevalkit.cli.main import score_main

if __name__ == "__main__":
    sys.exit(score_main())
