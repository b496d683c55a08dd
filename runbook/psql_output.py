"""Parse psql output (as a guide shows it, or as psql prints it) into a structure.

The same parser reads the guide's ``-- `` comment lines and the runner's actual output, so the
two can be compared structurally: columns, cells, row count, command tag, error, the ``NOTICE:``
lines before them.  Aligned tables may have multi-line cells (psql's ``+`` wrap marker); the
expanded display (``-[ RECORD 1 ]``) reads into the same columns and rows.
:func:`looks_like_output` tells a guide's expected output from prose written in ``-- `` comments.
"""

from __future__ import annotations

import re

from .kinds import ExpectedKind
from .model import Expected, Output, Span

_ROWS_RE = re.compile(r"^\((?P<n>\d+) rows?\)$")
_RULE_RE = re.compile(r"^-+(?:\+-+)*$")
_TAG_RE = re.compile(
    r"^(?:INSERT \d+ \d+|(?:UPDATE|DELETE|SELECT|MOVE|FETCH|COPY|MERGE) \d+|"
    r"[A-Z][A-Z]+(?: [A-Z][A-Z]+){0,3})$"
)
COMMAND_WORDS = frozenset(
    "ABORT ALTER ANALYZE BEGIN CALL CHECKPOINT CLOSE CLUSTER COMMENT COMMIT COPY CREATE DEALLOCATE DECLARE "
    "DELETE DISCARD DO DROP END EXECUTE FETCH GRANT IMPORT INSERT LISTEN LOAD LOCK MERGE MOVE NOTIFY PREPARE "
    "REASSIGN REFRESH REINDEX RELEASE RESET REVOKE ROLLBACK SAVEPOINT SECURITY SELECT SET SHOW START TRUNCATE "
    "UNLISTEN UPDATE VACUUM".split()
)
"""First words of psql's command tags (``CREATE INDEX``, ``SET``, ``INSERT 0 1``): a ``-- `` line such as
``-- NOTE`` or ``-- TODO`` is prose, not a tag."""
_RECORD_RE = re.compile(r"^-\[ RECORD (?P<n>\d+) \][-+]*$")
_NOTICE_RE = re.compile(r"^(?:psql:[^:]*:\d+: )?(?:NOTICE|WARNING|INFO):")
_ERROR_RE = re.compile(r"^(?:psql:[^:]*:\d+: )?(?P<sev>ERROR|FATAL|PANIC|WARNING|NOTICE):\s+(?P<msg>.*)$")
_SUB_RE = re.compile(r"^(?P<key>DETAIL|HINT|CONTEXT|LINE \d+|QUERY):\s*(?P<msg>.*)$")
_SQLSTATE_RE = re.compile(r"^(?P<code>[0-9A-Z]{5})$")


def split_cells(line: str) -> list[str]:
    """Cells of an aligned psql row: separated by ``|``, padding stripped."""
    return [c.strip() for c in line.split("|")]


def _is_tag(line: str) -> bool:
    return bool(_TAG_RE.match(line)) and line.split()[0] in COMMAND_WORDS


def _aligned_rows(lines: list[str], ncols: int) -> tuple[list[list[str]], int | None]:
    """Rows of an aligned table body (after the rule line), multi-line cells joined with ``\n``.

    psql marks a cell that goes on in the next line with ``+`` in its last position (just before
    ``|``, or at the end of the last column); the next line holds the rest of those cells.
    """
    rows: list[list[str]] = []
    wrapping: list[bool] = []
    for ln in lines:
        rm = _ROWS_RE.match(ln.strip())
        if rm:
            return rows, int(rm.group("n"))
        raw = [ln] if ncols == 1 else ln.split("|")
        wraps = []
        cells = []
        for k, cell in enumerate(raw):
            last = k == len(raw) - 1
            body = cell.rstrip() if last else cell
            wrap = body.endswith("+") and (not last or len(body.strip()) > 0)
            wraps.append(wrap)
            cells.append((body[:-1] if wrap else body).strip())
        if rows and any(wrapping):
            row = rows[-1]
            for k, cell in enumerate(cells[: len(row)]):
                if k < len(wrapping) and wrapping[k]:
                    row[k] += "\n" + cell
            wrapping = wraps[: len(row)]
            continue
        rows.append(cells)
        wrapping = wraps
    return rows, None


def _expanded(body: list[str]) -> tuple[list[str], list[list[str]], int | None]:
    """Columns and rows of psql's expanded display (``-[ RECORD n ]`` then ``key | value`` lines)."""
    columns: list[str] = []
    rows: list[list[str]] = []
    wrap = False
    count: int | None = None
    for ln in body:
        if _RECORD_RE.match(ln.strip()):
            rows.append([])
            wrap = False
            continue
        rm = _ROWS_RE.match(ln.strip())
        if rm:
            count = int(rm.group("n"))
            break
        if not rows:
            continue
        key, sep, value = ln.partition("|")
        value = value.strip() if sep else ln.strip()
        more = value.endswith("+")
        value = value[:-1].rstrip() if more else value
        if wrap and not key.strip() and rows[-1]:
            rows[-1][-1] += "\n" + value
        else:
            rows[-1].append(value)
            if len(rows) == 1:
                columns.append(key.strip())
        wrap = more
    return columns, rows, count if count is not None else len(rows)


def parse_output(lines: list[str]) -> Output:
    """Read psql output lines (no ``-- `` prefixes) into an :class:`Output`."""
    body = [ln.rstrip() for ln in lines]
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    notices: list[str] = []
    # NOTICE/WARNING lines come before the result; keep them apart.
    while body and _NOTICE_RE.match(body[0].strip()):
        notices.append(" ".join(re.sub(r"^psql:[^:]*:\d+: ", "", body.pop(0).strip()).split()))
        # a notice's DETAIL/HINT/CONTEXT lines belong to it
        while body and _SUB_RE.match(body[0].strip()):
            notices[-1] += "\n" + " ".join(body.pop(0).split())
    if not body:
        return Output(kind=ExpectedKind.TEXT, lines=list(lines), notices=notices)

    m = _ERROR_RE.match(body[0].strip())
    if m and m.group("sev") in ("ERROR", "FATAL", "PANIC"):
        error: dict[str, str] = {"severity": m.group("sev"), "message": m.group("msg").strip()}
        for ln in body[1:]:
            sub = _SUB_RE.match(ln.strip())
            if sub and sub.group("key") in ("DETAIL", "HINT"):
                error[sub.group("key").lower()] = sub.group("msg").strip()
            elif _SQLSTATE_RE.match(ln.strip()):
                error["sqlstate"] = ln.strip()
        return Output(kind=ExpectedKind.ERROR, lines=list(lines), error=error, notices=notices)

    if body[0].strip() == PLAN_HEADER and _written_by_hand(body):
        return _plan(body, lines, notices)
    # An aligned table: header, rule, rows, "(N rows)".
    if len(body) >= 2 and _RULE_RE.match(body[1].strip()):
        columns = split_cells(body[0])
        rows, row_count = _aligned_rows(body[2:], len(columns))
        return Output(
            kind=ExpectedKind.TABLE, lines=list(lines), columns=columns, rows=rows, row_count=row_count, notices=notices
        )
    # The expanded display: "-[ RECORD 1 ]----", then "key | value" lines.
    if _RECORD_RE.match(body[0].strip()) or (len(body) == 1 and body[0].strip() == "(0 rows)"):
        columns, rows, row_count = _expanded(body)
        return Output(kind=ExpectedKind.TABLE, lines=list(lines), columns=columns, rows=rows, row_count=row_count,
                      notices=notices, expanded=bool(rows))

    if len(body) == 1 and _is_tag(body[0].strip()):
        return Output(kind=ExpectedKind.TAG, lines=list(lines), tag=body[0].strip(), notices=notices)

    return Output(kind=ExpectedKind.TEXT, lines=list(lines), notices=notices)


PLAN_HEADER = "QUERY PLAN"
_ELISION_RE = re.compile(r"^\s*(?:\.{3,}|…)\s*$")


def _written_by_hand(body: list[str]) -> bool:
    """An EXPLAIN plan as a page writes it by hand: no rule line under ``QUERY PLAN``, or lines left
    out (``...``)."""
    return len(body) < 2 or not _RULE_RE.match(body[1].strip()) or any(_ELISION_RE.match(ln) for ln in body)


def _plan(body: list[str], lines: list[str], notices: list[str]) -> Output:
    """A hand-written plan read as psql's one-column ``QUERY PLAN`` table: a row per plan line; the
    ``...`` lines are no rows (``lines`` keep them), and an abbreviated plan has no row count."""
    start = 2 if len(body) > 1 and _RULE_RE.match(body[1].strip()) else 1
    rows: list[list[str]] = []
    count: int | None = None
    elided = False
    for ln in body[start:]:
        rm = _ROWS_RE.match(ln.strip())
        if rm:
            count = int(rm.group("n"))
            break
        if _ELISION_RE.match(ln):
            elided = True
        elif ln.strip():
            rows.append([ln.strip()])
    return Output(kind=ExpectedKind.TABLE, lines=list(lines), columns=[PLAN_HEADER], rows=rows,
                  row_count=None if elided else count, notices=notices)


def parse_expected(lines: list[str], span: Span) -> Expected:
    """Expected output of a guide's statement from its comment lines (``-- `` already removed)."""
    return Expected.shown(parse_output(lines), span)


def looks_like_output(lines: list[str]) -> bool:
    """True when ``-- `` comment lines (prefix removed) are shaped like psql output: a table (header and
    rule line, or expanded records), ``(N rows)``, a command tag, ``ERROR:``, ``NOTICE:`` …  Anything
    else is prose written inside SQL ("this query uses the index")."""
    body = [ln.strip() for ln in lines if ln.strip()]
    if not body:
        return False
    out = parse_output(lines)
    if out.kind in (ExpectedKind.TABLE, ExpectedKind.TAG, ExpectedKind.ERROR) or out.notices:
        return True
    return any(_ROWS_RE.match(ln) for ln in body)


_CARET_RE = re.compile(r"^\s*\^\s*$")
_STATEMENT_START_RE = re.compile(
    r"^(?:\\|(?:" + "|".join(sorted(COMMAND_WORDS | {"WITH", "VALUES", "TABLE", "EXPLAIN"})) + r")\b)",
    re.IGNORECASE)


def pasted_output_end(lines: list[str], start: int) -> int | None:
    """psql's output as psql prints it (no ``-- ``), from ``lines[start]`` on, right after a statement in
    a ``sql`` block: the index after its last line, or None when the lines there are not shaped like it.

    Shapes: ``NOTICE:``/``WARNING:`` lines, then an error (``ERROR:`` and its ``DETAIL:``, ``HINT:``,
    ``LINE n:``, caret lines), an aligned table (a header, its rule line, rows up to ``(N rows)`` or a
    blank line), the expanded display (``-[ RECORD 1 ]``, up to a blank line), ``(N rows)``, or one
    command tag followed by a blank line, the end of the block, more output or a new statement (a
    lone ``SELECT`` going on with its columns on the next line is SQL)."""
    n = len(lines)
    i = start
    while i < n and _NOTICE_RE.match(lines[i].strip()):
        i += 1
        while i < n and _SUB_RE.match(lines[i].strip()):
            i += 1
    if i >= n or not lines[i].strip():
        return i if i > start else None
    head = lines[i].strip()
    m = _ERROR_RE.match(head)
    if m and m.group("sev") in ("ERROR", "FATAL", "PANIC"):
        i += 1
        while i < n and (_SUB_RE.match(lines[i].strip()) or _CARET_RE.match(lines[i])):
            i += 1
        return i
    if i + 1 < n and _RULE_RE.match(lines[i + 1].strip()) and not head.endswith(";"):
        return _body_end(lines, i + 2)
    if _RECORD_RE.match(head) or head == PLAN_HEADER:
        return _body_end(lines, i + 1)
    if _ROWS_RE.match(head):
        return i + 1
    if _is_tag(head):
        after = lines[i + 1].strip() if i + 1 < n else ""
        if not after or _STATEMENT_START_RE.match(after) or pasted_output_end(lines, i + 1) is not None:
            return i + 1
    return i if i > start else None


def _body_end(lines: list[str], i: int) -> int:
    """After a table's rows: past ``(N rows)``, or at the first blank line."""
    while i < len(lines) and lines[i].strip():
        if _ROWS_RE.match(lines[i].strip()):
            return i + 1
        i += 1
    return i


def render_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    """Lay a table out as psql's aligned format does (used by ``--update-expected``)."""
    widths = [len(c) for c in columns]
    for row in rows:
        for i, cell in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], _display_width(cell))
    header = "|".join(
        " " + _center(c, w) + " " for c, w in zip(columns, widths, strict=False)
    )
    rule = "+".join("-" * (w + 2) for w in widths)
    body = []
    for row in rows:
        cells = []
        for i, (cell, w) in enumerate(zip(row, widths, strict=False)):
            pad = w - _display_width(cell)
            last = i == len(widths) - 1
            cells.append(" " + cell + ("" if last else " " * pad) + " " if not last else " " + cell)
        body.append("|".join(cells))
    n = len(rows)
    footer = f"({n} row{'s' if n != 1 else ''})"
    return [header, rule, *body, footer]


def _center(text: str, width: int) -> str:
    pad = width - _display_width(text)
    left = pad // 2
    return " " * left + text + " " * (pad - left)


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
