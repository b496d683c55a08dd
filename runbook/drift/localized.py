"""Comparer: example data written in each page's own language (a translation's localized data).

Two translations of a reference page often insert Japanese strings in one and English ones in the
other (``INSERT INTO memos VALUES (2, 'Groongaは…')`` / ``(2, 'Groonga is …')``), and show the
results that match.  That is executable drift, of its own kind: a statement whose SQL differs only
in its string literals, where one side's differing literals are in its language's script
(``[script].letters`` of the lexicon) and the other side's are not; and an expected output of the
same statement whose differing cells are so.  Each change names the first differing line of both
pages.  The other comparers leave these statements to this one (:func:`localized_statements`,
:func:`localized_output`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache

from .. import lexicon as lexicons
from ..errors import RunbookError
from ..kinds import ActionKind, ExpectedKind
from ..model import Action, Expected, Statement
from .context import Context
from .lines import Line, sql_code, unified
from .report import Change

_LITERAL_RE = re.compile(r"(?<![\w$])[eE]?'(?:[^']|'')*'")
_LIST_RE = re.compile(r"\?(?:\s*,\s*\?)+")
_TUPLES_RE = re.compile(r"\(\?\)(?:\s*,\s*\(\?\))+")


@cache
def _letters(lang: str) -> re.Pattern[str] | None:
    try:
        pattern = lexicons.load(lang).raw.get("script", {}).get("letters")
    except RunbookError:
        return None
    return re.compile(pattern) if isinstance(pattern, str) else None


def skeleton(lines: list[Line]) -> tuple[str, list[str]]:
    """The statement with its literals replaced by ``?`` (lists of literals by one), and the literals."""
    text = " ".join(t for t, _ in lines)
    literals = _LITERAL_RE.findall(text)
    skeleton = " ".join(_LITERAL_RE.sub("?", text).split())
    skeleton = _TUPLES_RE.sub("(?)", _LIST_RE.sub("?", skeleton))
    return skeleton, literals


def _in_own_script(ctx: Context, old: list[str], new: list[str]) -> bool:
    """The differing texts are each side's language's: a side whose lexicon names its script writes
    them in it, and the other side does not (Japanese strings in ja, none in en)."""
    if ctx.same_lang:
        return False
    lo, ln = _letters(ctx.old.source.lang), _letters(ctx.new.source.lang)
    if lo is None and ln is None:
        return False
    for mine, other, letters in ((old, new, lo), (new, old, ln)):
        if letters is None:
            continue
        if not any(letters.search(t) for t in mine) or any(letters.search(t) for t in other):
            return False
    return True


def statement_localized(ctx: Context, a: Statement, b: Statement) -> bool:
    """``a`` and ``b`` are the same statement with localized example data."""
    sa, la = skeleton(sql_code(a))
    sb, lb = skeleton(sql_code(b))
    if sa != sb or la == lb:
        return False
    differing_a = [x for x in la if x not in lb]
    differing_b = [x for x in lb if x not in la]
    return _in_own_script(ctx, differing_a, differing_b)


def localized_statements(ctx: Context, x: Action, y: Action) -> list[tuple[Statement, Statement]] | None:
    """The statement pairs of two SQL actions that differ by localized data, when that is all they
    differ by (the same number of statements, each the same or localized); else None."""
    if x.kind != ActionKind.SQL or y.kind != ActionKind.SQL or len(x.statements) != len(y.statements) or ctx.same_lang:
        return None
    found: list[tuple[Statement, Statement]] = []
    for a, b in zip(x.statements, y.statements, strict=True):
        if [t for t, _ in sql_code(a)] == [t for t, _ in sql_code(b)]:
            continue
        if not statement_localized(ctx, a, b):
            return None
        found.append((a, b))
    return found or None


def _cells(exp: Expected) -> list[str]:
    return [c for row in exp.rows for c in row]


def localized_output(ctx: Context, a: Expected | None, b: Expected | None) -> bool:
    """Two expected outputs of the same statement that differ only in cells of localized data."""
    if a is None or b is None or ctx.same_lang or a.kind != ExpectedKind.TABLE or b.kind != ExpectedKind.TABLE:
        return False
    if a.columns != b.columns or len(a.rows) != len(b.rows) or a.row_count != b.row_count:
        return False
    old = [x for x, y in zip(_cells(a), _cells(b), strict=False) if x != y]
    new = [y for x, y in zip(_cells(a), _cells(b), strict=False) if x != y]
    return bool(old) and _in_own_script(ctx, old, new)


def _first_lines(ctx: Context, old: list[Line], new: list[Line]) -> tuple[int, int]:
    """The first lines that differ in localized text; else the first that differ in words (not in
    spacing, nor psql's rule lines)."""
    lo, ln = _letters(ctx.old.source.lang), _letters(ctx.new.source.lang)
    for (ta, la), (tb, lb) in zip(old, new, strict=False):
        if ta != tb and ((lo is not None and lo.search(ta)) or (ln is not None and ln.search(tb))):
            return la, lb
    for (ta, la), (tb, lb) in zip(old, new, strict=False):
        if " ".join(ta.split()) != " ".join(tb.split()) and re.search(r"\w", ta + tb.replace("--", "")):
            if re.search(r"[^\s\-+|]", ta.replace("--", "", 1)) or re.search(r"[^\s\-+|]", tb.replace("--", "", 1)):
                return la, lb
    return old[0][1], new[0][1]


def _expected_lines(exp: Expected) -> list[Line]:
    return [(ln.rstrip(), exp.span.line + k) for k, ln in enumerate(exp.lines)]


def compare(ctx: Context) -> Iterator[Change]:
    for sp in ctx.steps:
        for x, y in sp.matched_actions():
            if x.kind != ActionKind.SQL or y.kind != ActionKind.SQL:
                continue
            for a, b in localized_statements(ctx, x, y) or []:
                old, new = sql_code(a), sql_code(b)
                yield _change(ctx, "example data localized", old, new, b, sp.new.id, y.id, "sql")
                if a.expected is not None and b.expected is not None and a.expected.lines != b.expected.lines:
                    yield _change(ctx, "expected output of localized data", _expected_lines(a.expected),
                                  _expected_lines(b.expected), b, sp.new.id, y.id, "expected")
            for a, b in _same_statements(x, y):
                if localized_output(ctx, a.expected, b.expected):
                    assert a.expected is not None and b.expected is not None
                    yield _change(ctx, "expected output of localized data", _expected_lines(a.expected),
                                  _expected_lines(b.expected), b, sp.new.id, y.id, "expected")


def _change(ctx: Context, what: str, old: list[Line], new: list[Line], st: Statement, step: str, action: str,
            field: str) -> Change:
    lo, ln = _first_lines(ctx, old, new)
    return Change("localized-data", f"{what}: {_first(st)}", ctx.where_old(lo), ctx.where_new(ln), step=step,
                  action=action, diff=unified(old, new), details={"field": field, "statement": st.sql})


def _same_statements(x: Action, y: Action) -> Iterator[tuple[Statement, Statement]]:
    """Statements with the same SQL on both sides, in order."""
    from .align import pair

    def key(s: Statement) -> tuple[str, ...]:
        return tuple(t for t, _ in sql_code(s))

    for i, j in pair(x.statements, y.statements, key=key):
        if i is not None and j is not None and key(x.statements[i]) == key(y.statements[j]):
            yield x.statements[i], y.statements[j]


def _first(st: Statement) -> str:
    first = st.sql.strip().split("\n")[0]
    return first if len(first) <= 60 else first[:57] + "..."
