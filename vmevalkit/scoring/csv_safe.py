"""CSV files that a spreadsheet opens as data, never as formulas.

Every CSV the project writes (the report's ``metrics_summary.csv`` and ``metrics_detail.csv``, the
meta-evaluation's ``meta_summary.csv`` and ``meta_detail.csv``) holds text from outside: model names, task ids,
group values read from ``metadata.json`` or ``question_metadata.json``, dimension names from a labels file. A cell
such as ``=HYPERLINK(...)`` or ``@SUM(...)`` would run as a formula in Excel, LibreOffice or Google Sheets. Following
OWASP's guidance on CSV injection (https://owasp.org/www-community/attacks/CSV_Injection), a text cell whose first
character (after any spaces) is ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a line feed (or the
full-width ``＝ ＋ － ＠``) gets a leading single quote, which spreadsheets show as text. Numbers are written as
numbers: a float or an int is never touched, and neither is a text cell that is exactly a plain number
(``-1``, ``+2.5``, ``-3e-4``), so a seed of ``-1`` stays numeric.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(text: str) -> str:
    """``text`` made safe to open in a spreadsheet: a quote before anything a spreadsheet would read as a formula."""
    if PLAIN_NUMBER.fullmatch(text):
        return text
    head = text.lstrip(" ")
    if head and head[0] in FORMULA_STARTS or text[:1] in FORMULA_STARTS:
        return "'" + text
    return text


def csv_cell(value: Any) -> str:
    """One cell: empty for None, ``true``/``false``, a float as the shortest text that reads back as it, text
    neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def quoted(cell: str) -> str:
    """A cell as RFC 4180 writes it: in double quotes (doubled inside) when it holds a comma, a quote, a carriage
    return or a line feed. (Python's csv writer leaves a lone carriage return unquoted when lines end in a line
    feed, and a reader then starts a new row there: text from the data could forge rows.)"""
    if any(c in cell for c in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A header of ``columns`` and one line per row (a missing key is an empty cell), every cell by ``csv_cell``;
    lines end in a line feed."""
    lines = [",".join(quoted(csv_cell(column)) for column in columns)]
    lines.extend(",".join(quoted(csv_cell(row.get(column))) for column in columns) for row in rows)
    return "".join(line + "\n" for line in lines)
