"""Text from outside (task ids, prompts, provider bodies, exceptions) made safe to print.

A task id or a provider's error body may hold terminal control sequences:
``ESC[2J`` clears the screen, OSC 52 writes the clipboard, a bare ``\\r``
overwrites the line before it. ``printable`` shows every control character as
an escape (``\\x1b``, ``\\r``, ``\\u202e``) instead of sending it to the terminal.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the bidirectional overrides that reorder what is shown.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """``str(text)`` with its control characters escaped; newlines kept when asked (multi-line messages)."""
    value = str(text)
    if keep_newlines:
        return "\n".join(_CONTROL.sub(_escape, line) for line in value.split("\n"))
    return _CONTROL.sub(_escape, value)
