"""Print the README's Quick start commands, one per line, in order.

CI runs exactly these, so the README and CI cannot drift apart.
"""

import re
import sys
from pathlib import Path

text = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md").read_text(encoding="utf-8")
section = re.search(r"^## Quick start\n(.*?)(?=^## )", text, flags=re.M | re.S)
if not section:
    sys.exit("README.md has no '## Quick start' section")
blocks = re.findall(r"^```bash\n(.*?)^```", section.group(1), flags=re.M | re.S)
commands = [b.strip() for b in blocks]
if len(commands) != 2 or any("\n" in c for c in commands):
    sys.exit(f"the Quick start must hold exactly two one-line commands, found {commands!r}")
print("\n".join(commands))
