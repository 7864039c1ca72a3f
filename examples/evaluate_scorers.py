#!/usr/bin/env python3
"""How well each scorer agrees with human labels: ``vmevalkit evaluate-scorers``. All logic lives in
``vmevalkit.scoring.meta_eval`` (the command line in ``vmevalkit.cli.evaluate_scorers``).

python examples/evaluate_scorers.py --labels human_labels.jsonl --scorer task-verifier frame-match
python examples/evaluate_scorers.py --labels human_labels.jsonl --scorer frame-match --map task_success=final_ssim

The label format: docs/SCORING.md, "Human labels".
"""

import sys

from vmevalkit.cli.main import evaluate_scorers_main

if __name__ == "__main__":
    sys.exit(evaluate_scorers_main())
