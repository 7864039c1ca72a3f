#!/usr/bin/env python3
"""How well each scorer agrees with human labels. All logic lives in ``vmevalkit.scoring.meta_eval``.

python examples/evaluate_scorers.py --labels human_labels.jsonl --scorer task-verifier frame-match
python examples/evaluate_scorers.py --labels human_labels.jsonl --scorer frame-match --map task_success=final_ssim

The label format: docs/SCORING.md, "Human labels".
"""

import sys

from vmevalkit.scoring.meta_eval import main

if __name__ == "__main__":
    sys.exit(main())
