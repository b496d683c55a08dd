"""The rules of a file edit, once: the runner applies them, and the exports run them on the hosts.

A before line matches a file line on its content: whitespace runs collapsed and, for conf files
(:func:`is_conf`), a trailing ``# comment`` ignored on either side (Debian's
``#listen_addresses = 'localhost'		# what IP …`` matches the guide's ``#listen_addresses =
'localhost'``, and a guide's line with a comment matches the file's line without).  Several before
lines must be consecutive.  Every line the edit does not touch stays byte-identical.  An after block
that repeats the before lines and adds some inserts the added lines after the matched ones, once.

Two edits have no before text: settings (``wal_level = logical`` …: each replaces the setting's
active line, or is appended when the file has none) and an append (lines added at the end of the
file, once).  All are idempotent: applied to their own result they say ``already-applied``.

The runner calls the ``apply_*`` functions on a file's content (it reads and writes the file over
its transport).  The sh export and the Ansible export run this module on the hosts, as a helper
built from its text and :mod:`runbook.atomic`'s (:func:`helper_source`; ``main`` reads and writes the
file, keeping ``FILE.runbook-bak``).  So: standard library only, nothing else imported from runbook,
Python 3.8 or later.
"""

from __future__ import annotations

import difflib
import enum
import os
import re
import shutil
import sys
from dataclasses import dataclass

from .atomic import write_temp  # helper: runbook/atomic.py's text comes first

CONF_SUFFIXES = (".conf", ".cnf", ".ini", ".properties")
CONF_LANGS = ("conf", "ini", "properties")
BACKUP_SUFFIX = ".runbook-bak"


def is_conf(path: str, lang: str | None = None) -> bool:
    """Whether a trailing ``# comment`` is ignored when matching lines: a configuration file, known by
    its name (``postgresql.conf``) or by the language of the guide's block (`` ```conf ``)."""
    return path.endswith(CONF_SUFFIXES) or (lang or "").lower() in CONF_LANGS


class EditStatus(str, enum.Enum):  # noqa: UP042 (enum.StrEnum: Python 3.11; this runs on 3.8)
    """What an edit did (compares equal to its string, as the reports write it)."""

    APPLIED = "applied"
    ALREADY_APPLIED = "already-applied"
    BEFORE_MISSING = "before-missing"

    def __str__(self) -> str:
        return str(self.value)


@dataclass
class EditResult:
    status: EditStatus
    content: str
    """The new content (unchanged unless applied)."""
    diff: str
    """A unified diff of the change; for ``before-missing``, what was looked for and the closest lines."""
    message: str


# -- matching ---------------------------------------------------------------------------------------

def norm(line: str, conf: bool) -> str:
    """A line as matching compares it: whitespace runs collapsed; for conf files a trailing comment
    dropped (not a commented-out line: ``#x = 1   # note`` -> ``#x = 1``)."""
    text = line.strip()
    if conf and len(text) > 1:
        m = re.search(r"\s#", text[1:])
        if m:
            text = text[: m.start() + 1]
    return " ".join(text.split())


def nonblank(text: str) -> list[str]:
    return [ln for ln in text.split("\n") if ln.strip()]


def find(file_lines: list[str], block: list[str], conf: bool) -> int | None:
    """Where the lines of ``block`` stand, consecutive, in ``file_lines`` (the first place), or None."""
    want = [norm(b, conf) for b in block]
    have = [norm(f, conf) for f in file_lines]
    n = len(want)
    for i in range(len(have) - n + 1):
        if have[i : i + n] == want:
            return i
    return None


def _newline(content: str) -> str:
    return "\r\n" if "\r\n" in content else "\n"


def _changed(content: str, new_lines: list[str], newline: str, path: str, what: str) -> EditResult:
    new = newline.join(new_lines)
    diff = "".join(difflib.unified_diff(content.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"{path} (before)", f"{path} (after)", n=1))
    return EditResult(EditStatus.APPLIED, new, diff, f"{path}: {what}")


def _already(content: str, path: str, what: str) -> EditResult:
    return EditResult(EditStatus.ALREADY_APPLIED, content, "", f"{path}: {what}")


# -- the three edits --------------------------------------------------------------------------------

def _offset(outer: list[str], inner: list[str]) -> int | None:
    """Where the (normalized) lines ``inner`` stand in ``outer``, or None."""
    n = len(inner)
    return next((i for i in range(len(outer) - n + 1) if outer[i : i + n] == inner), None) if n else None


def apply_edit(content: str, before: str, after: str, *, conf: bool = True, path: str = "file") -> EditResult:
    """A before/after edit of ``content``: the before lines (their first place) replaced by the after
    lines; already applied when the before text is gone and the after text is in place.

    An after block that holds the before lines and adds some (after them, before them, around them)
    adds only those lines, leaving the file's own lines as they are, and is already applied when the
    whole after text is in place.  An empty after block removes the before lines, and is already
    applied when they are gone.  (An edit whose result holds its before text again, made of after
    lines and the file's next lines, would be applied again by a second run: guides write none.)"""
    newline = _newline(content)
    file_lines = content.split(newline)
    b, a = nonblank(before), nonblank(after)
    nb, na = [norm(x, conf) for x in b], [norm(x, conf) for x in a]
    around = _offset(na, nb) if len(a) > len(b) else None  # the after block holds the before lines
    if around is not None and find(file_lines, a, conf) is not None:
        return _already(content, path, "the added lines are already there")
    at = find(file_lines, b, conf) if b else None
    if at is not None:
        kept = file_lines[at : at + len(b)]
        middle = a[:around] + kept + a[around + len(b) :] if around is not None else a
        new_lines = file_lines[:at] + middle + file_lines[at + len(b) :]
        diff = "".join(difflib.unified_diff([x + "\n" for x in file_lines], [x + "\n" for x in new_lines],
                                            f"{path} (before)", f"{path} (after)", n=1))
        return EditResult(EditStatus.APPLIED, newline.join(new_lines), diff, f"{path}: edited line {at + 1}")
    if a and find(file_lines, a, conf) is not None:
        return _already(content, path, "the after text is already in place")
    if b and not a:
        return _already(content, path, "the before lines are gone (the edit removes them)")
    close: list[str] = []  # neither: what was looked for and the closest lines of the file
    for line in b:
        close += difflib.get_close_matches(line.strip(), [f.strip() for f in file_lines if f.strip()], n=1, cutoff=0.5)
    detail = "\n".join(["expected to find:", *("  " + x for x in b), "closest lines in the file:",
                        *("  " + x for x in close or ["(none)"])])
    return EditResult(EditStatus.BEFORE_MISSING, content, detail,
                      f"{path}: the before text is not in the file (file left untouched)")


def holds_before_again(content: str, before: str, after: str, *, conf: bool = True) -> bool:
    """Whether ``content`` (an edit's result) holds the before text where the after block does not:
    the edit would be applied again (see :func:`apply_edit`)."""
    b, a = nonblank(before), nonblank(after)
    around = _offset([norm(x, conf) for x in a], [norm(x, conf) for x in b]) if len(a) > len(b) else None
    return around is None and bool(b) and find(content.split(_newline(content)), b, conf) is not None


_SETTING_RE = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*(?:=\s*|\s+)(?P<value>.*?)\s*$")


def parse_setting(line: str) -> tuple[str, str] | None:
    """``wal_level = logical  # note`` -> (``wal_level``, ``logical``); None for a comment or blank."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    m = _SETTING_RE.match(norm(text, True))
    if not m:
        return None
    value = m.group("value")
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = value[1:-1].replace("''", "'")
    return m.group("name").casefold(), value


def _append_lines(lines: list[str], added: list[str]) -> list[str]:
    """``lines`` with ``added`` after the last line (before the file's final newline, if any)."""
    if lines and lines[-1] == "":
        return lines[:-1] + added + [""]
    return lines + added


def apply_settings(content: str, settings: str, *, path: str = "file") -> EditResult:
    """Set each ``name = value`` line of ``settings`` (a name given twice: its last value, as the
    server reads it): the setting's active line (the last one, the one in effect) is replaced when
    its value differs; a setting with no active line is appended."""
    newline = _newline(content)
    lines = content.split(newline)
    wanted: dict[str, tuple[str, tuple[str, str]]] = {}
    for want in [ln.strip() for ln in nonblank(settings)]:
        parsed = parse_setting(want)
        if parsed is not None and wanted.get(parsed[0], ("", None))[1] != parsed:
            wanted.pop(parsed[0], None)
            wanted[parsed[0]] = (want, parsed)
    appended: list[str] = []
    replaced: list[int] = []
    for name, (want, parsed) in wanted.items():
        active = [i for i, ln in enumerate(lines) if (p := parse_setting(ln)) is not None and p[0] == name]
        if not active:
            appended.append(want)
        elif parse_setting(lines[active[-1]]) != parsed:
            lines[active[-1]] = want
            replaced.append(active[-1] + 1)
    if not appended and not replaced:
        return _already(content, path, "the settings are already in place")
    what = ", ".join(x for x in (f"replaced line(s) {', '.join(map(str, sorted(replaced)))}" if replaced else "",
                                 f"appended {len(appended)} setting(s)" if appended else "") if x)
    return _changed(content, _append_lines(lines, appended) if appended else lines, newline, path, what)


def apply_append(content: str, added: str, *, conf: bool = True, path: str = "file") -> EditResult:
    """Add the lines of ``added`` at the end of the file, unless they are already there (consecutive,
    compared on content as a before block is)."""
    newline = _newline(content)
    lines = content.split(newline)
    block = nonblank(added)
    if not block or find(lines, block, conf) is not None:
        return _already(content, path, "the added lines are already there")
    return _changed(content, _append_lines(lines, block), newline, path, f"appended {len(block)} line(s)")


def apply_file_edit(content: str, mode: str | None, before: str | None, after: str, *, path: str = "file",
                    lang: str | None = None, conf: bool | None = None) -> EditResult:
    """One file edit action: ``mode`` is the action's ``edit`` field (None: a before/after edit);
    conf-file matching as :func:`is_conf` says for ``path`` and ``lang`` unless ``conf`` is given."""
    conf = is_conf(path, lang) if conf is None else conf
    if mode == "settings":
        return apply_settings(content, after, path=path)
    if mode == "append":
        return apply_append(content, after, conf=conf, path=path)
    return apply_edit(content, before or "", after, conf=conf, path=path)


# -- the helper on a host ---------------------------------------------------------------------------

def expand(text: str, names: list[str]) -> str:
    """``${NAME}`` replaced by the environment variable's value, for each of ``names`` (secrets: the
    exports write references, never the values)."""
    for name in names:
        if name not in os.environ:
            sys.exit(f"runbook: environment variable {name} is not set")
        text = text.replace("${" + name + "}", os.environ[name])
    return text


def replace_file(path: str, content: str) -> None:
    """Write ``content`` over ``path`` at once, after copying it to ``PATH.runbook-bak``; the file keeps
    its permissions and owner (a new file: mode 0644, the folder's owner)."""
    exists = os.path.exists(path)
    if exists:
        shutil.copy2(path, path + BACKUP_SUFFIX)
    tmp = write_temp(path, content, like=path, sync=True)
    try:
        if not exists:
            folder = os.stat(os.path.dirname(path) or ".")
            os.chmod(tmp, 0o644)
            os.chown(tmp, folder.st_uid, folder.st_gid)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            return fh.read()
    except OSError as exc:
        sys.exit(f"runbook: {path}: cannot read: {exc.strerror}")


def edit_file(op: str, path: str, lang: str, before: str, after: str) -> int:
    """Apply an edit (``op``: ``edit``, ``settings``, ``append``) to the file ``path``; exit status 1
    when the before text is missing (the file left untouched)."""
    content = _read(path)
    result = apply_file_edit(content, None if op == "edit" else op, before, after, path=path, lang=lang)
    if result.status == EditStatus.BEFORE_MISSING:
        sys.stderr.write(f"runbook: {result.message}\n{result.diff}\n")
        return 1
    if result.status == EditStatus.ALREADY_APPLIED:
        sys.stderr.write(f"runbook: already applied: {result.message}\n")
        return 0
    replace_file(path, result.content)
    sys.stderr.write(f"runbook: {result.message} (backup: {path}{BACKUP_SUFFIX})\n")
    return 0


def write_file(path: str, content: str) -> int:
    """A file write: ``content`` (with a final newline), unless the file already holds it."""
    if not content.endswith("\n"):
        content += "\n"
    if os.path.exists(path) and _read(path) == content:
        sys.stderr.write(f"runbook: {path}: already written\n")
        return 0
    replace_file(path, content)
    sys.stderr.write(f"runbook: {path}: written\n")
    return 0


USAGE = """usage: helper [--env] edit PATH LANG BEFORE AFTER [ENV...]
       helper [--env] settings PATH SETTINGS [ENV...]
       helper [--env] append PATH LANG LINES [ENV...]
       helper [--env] write PATH CONTENT [ENV...]
LANG: the language of the guide's block ("conf", "" ...): with the path, says whether a trailing
# comment is ignored when matching.  --env: BEFORE, AFTER, SETTINGS, LINES and CONTENT name the
environment variables that hold the texts.  ENV: environment variables whose ${ENV} references the
texts hold (secrets)."""


def main(argv: list[str]) -> int:
    from_env = bool(argv) and argv[0] == "--env"
    argv = argv[1:] if from_env else argv
    arity = {"edit": 5, "settings": 3, "append": 4, "write": 3}
    if not argv or argv[0] not in arity or len(argv) < arity[argv[0]]:
        sys.stderr.write(USAGE + "\n")
        return 2
    op, n = argv[0], arity[argv[0]]
    args, names = argv[1:n], argv[n:]

    def text(i: int) -> str:
        return expand(os.environ.get(args[i], "") if from_env else args[i], names)

    if op == "edit":
        return edit_file(op, args[0], args[1], text(2), text(3))
    if op == "settings":
        return edit_file(op, args[0], "conf", "", text(1))
    if op == "append":
        return edit_file(op, args[0], args[1], "", text(2))
    return write_file(args[0], text(1))


def helper_source() -> str:
    """The helper the exports run (``python3 - ARGS``, ``python3 -c "$HELPER" ARGS``, a script file):
    the text of :mod:`runbook.atomic` and of this module, one after the other, run as ``__main__``."""
    from pathlib import Path

    here = Path(__file__).parent
    parts = ["from __future__ import annotations"]
    for name in ("atomic.py", "edit_rules.py"):
        text = (here / name).read_text(encoding="utf-8")
        parts.append("\n".join(ln for ln in text.split("\n")
                               if ln != "from __future__ import annotations" and not ln.startswith("from .atomic ")))
    return "\n\n".join(parts).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
