"""Exact, safe file edits: find the guide's before text in a real file, change only those lines.

A before line matches a file line on its content: whitespace runs collapsed and, for conf files,
a trailing ``# comment`` ignored (Debian's ``#listen_addresses = 'localhost'		# what IP …``
matches the guide's ``#listen_addresses = 'localhost'``).  Every line the edit does not touch stays
byte-identical.  An after block that repeats the before lines and adds some inserts the added
lines after the matched ones.

Two edits have no before text: settings (``wal_level = logical`` …: each replaces the setting's
active line, or is appended when the file has none) and an append (lines added at the end of the
file, once).  Both are exact, atomic (the caller writes the result at once) and idempotent.
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


_SETTING_RE = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*(?:=\s*|\s+)(?P<value>.*?)\s*$")


def parse_setting(line: str) -> tuple[str, str] | None:
    """``wal_level = logical  # note`` -> (``wal_level``, ``logical``); None for a comment or blank."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    m = _SETTING_RE.match(_norm(text, True))
    if not m:
        return None
    value = m.group("value")
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = value[1:-1].replace("''", "'")
    return m.group("name").casefold(), value


def _changed(content: str, new_lines: list[str], newline: str, path: str, what: str) -> EditResult:
    new = newline.join(new_lines)
    diff = "".join(difflib.unified_diff(content.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"{path} (before)", f"{path} (after)", n=1))
    return EditResult("applied", new, diff, f"{path}: {what}")


def _append_lines(lines: list[str], added: list[str]) -> list[str]:
    """``lines`` with ``added`` after the last line (before the file's final newline, if any)."""
    if lines and lines[-1] == "":
        return lines[:-1] + added + [""]
    return lines + added


def apply_settings(content: str, settings: str, *, path: str = "file") -> EditResult:
    """Set each ``name = value`` line of ``settings``: the setting's active line (the last one, the
    one in effect) is replaced when its value differs; a setting with no active line is appended."""
    newline = "\r\n" if "\r\n" in content else "\n"
    lines = content.split(newline)
    wanted = [ln.strip() for ln in _lines(settings)]
    appended: list[str] = []
    replaced: list[int] = []
    for want in wanted:
        parsed = parse_setting(want)
        if parsed is None:
            continue
        name, value = parsed
        active = [i for i, ln in enumerate(lines) if (p := parse_setting(ln)) is not None and p[0] == name]
        if active:
            if parse_setting(lines[active[-1]]) != parsed:
                lines[active[-1]] = want
                replaced.append(active[-1] + 1)
        elif not any(parse_setting(a) == parsed for a in appended):
            appended.append(want)
    if not appended and not replaced:
        return EditResult("already-applied", content, "", f"{path}: the settings are already in place")
    what = ", ".join(x for x in (f"replaced line(s) {', '.join(map(str, replaced))}" if replaced else "",
                                 f"appended {len(appended)} setting(s)" if appended else "") if x)
    return _changed(content, _append_lines(lines, appended) if appended else lines, newline, path, what)


def apply_append(content: str, added: str, *, conf: bool = True, path: str = "file") -> EditResult:
    """Add the lines of ``added`` at the end of the file, unless they are already there (consecutive,
    compared on content as a before block is)."""
    newline = "\r\n" if "\r\n" in content else "\n"
    lines = content.split(newline)
    block = _lines(added)
    if not block or _find(lines, block, conf) is not None:
        return EditResult("already-applied", content, "", f"{path}: the added lines are already there")
    return _changed(content, _append_lines(lines, block), newline, path, f"appended {len(block)} line(s)")


def apply_file_edit(content: str, mode: str | None, before: str | None, after: str, *, conf: bool = True,
                    path: str = "file") -> EditResult:
    """One file edit action: ``mode`` is the action's ``edit`` field (None: a before/after edit)."""
    if mode == "settings":
        return apply_settings(content, after, path=path)
    if mode == "append":
        return apply_append(content, after, conf=conf, path=path)
    return apply_edit(content, before or "", after, conf=conf, path=path)
