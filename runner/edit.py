"""Exact, safe file edits: find the guide's before text in a real file, change only those lines.

A before line matches a file line on its content: whitespace runs collapsed and, for conf files,
a trailing ``# comment`` ignored (Debian's ``#listen_addresses = 'localhost'		# what IP …``
matches the guide's ``#listen_addresses = 'localhost'``).  Every line the edit does not touch stays
byte-identical.  An after block that repeats the before lines and adds some inserts the added
lines after the matched ones.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass


@dataclass
class EditResult:
    status: str
    """``applied``, ``already-applied`` or ``before-missing``."""
    content: str
    """The new content (unchanged unless applied)."""
    diff: str
    message: str


def _norm(line: str, conf: bool) -> str:
    text = line.strip()
    if conf and len(text) > 1:
        # a trailing comment, not a commented-out line: "#x = 1   # note" -> "#x = 1"
        m = re.search(r"\s#", text[1:])
        if m:
            text = text[: m.start() + 1]
    return " ".join(text.split())


def _lines(text: str) -> list[str]:
    return [ln for ln in text.split("\n") if ln.strip()]


def _find(file_lines: list[str], block: list[str], conf: bool) -> int | None:
    want = [_norm(b, conf) for b in block]
    norm = [_norm(f, conf) for f in file_lines]
    n = len(want)
    for i in range(len(norm) - n + 1):
        if norm[i : i + n] == want:
            return i
    return None


def apply_edit(content: str, before: str, after: str, *, conf: bool = True, path: str = "file") -> EditResult:
    """Apply one before/after edit to ``content``."""
    newline = "\r\n" if "\r\n" in content else "\n"
    file_lines = content.split(newline)
    b = _lines(before)
    a = _lines(after)
    insertion = len(a) > len(b) and [_norm(x, conf) for x in a[: len(b)]] == [_norm(x, conf) for x in b]
    at = _find(file_lines, b, conf) if b else None
    if at is not None:
        if insertion:
            added = a[len(b) :]
            following = file_lines[at + len(b) : at + len(b) + len(added)]
            if [_norm(x, conf) for x in following] == [_norm(x, conf) for x in added]:
                return EditResult("already-applied", content, "", f"{path}: the added lines are already there")
            new_lines = file_lines[: at + len(b)] + added + file_lines[at + len(b) :]
        else:
            new_lines = file_lines[:at] + a + file_lines[at + len(b) :]
        new = newline.join(new_lines)
        diff = "".join(
            difflib.unified_diff(
                [x + "\n" for x in file_lines], [x + "\n" for x in new_lines],
                f"{path} (before)", f"{path} (after)", n=1,
            )
        )
        return EditResult("applied", new, diff, f"{path}: edited line {at + 1}")
    if a and _find(file_lines, a, conf) is not None:
        return EditResult("already-applied", content, "", f"{path}: the after text is already in place")
    # Neither: show what was looked for and the closest lines of the file.
    close: list[str] = []
    for line in b:
        close += difflib.get_close_matches(line.strip(), [f.strip() for f in file_lines if f.strip()], n=1, cutoff=0.5)
    detail = "\n".join(["expected to find:", *("  " + x for x in b), "closest lines in the file:",
                        *("  " + x for x in close or ["(none)"])])
    return EditResult("before-missing", content, detail,
                      f"{path}: the before text is not in the file (file left untouched)")
