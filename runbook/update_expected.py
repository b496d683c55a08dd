"""Rewrite a guide's expected-output comment lines (``-- `` lines after a SQL statement).

The pure part of ``runbook run --update-expected``: given the guide's text and, for each statement
whose output differed, the lines psql actually printed, return the new text and a unified diff.
Only the ``-- `` lines of those statements change (or the lines of psql's output a page pastes
without ``-- ``: written back so); every other byte of the file (line endings,
trailing spaces, a missing final newline) stays as it was.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from .errors import RunbookError
from .model import Span
from .psql_output import pasted_output_end

_COMMENT_RE = re.compile(r"^(?P<indent>[ \t]*)-")
_FENCE_RE = re.compile(r"^(?P<indent>[ \t]*)(?:`{3,}|~{3,})")


@dataclass
class Replacement:
    """New expected output for one statement."""

    statement_span: Span
    """The statement whose expected output differs."""
    expected_span: Span | None
    """Lines of the existing ``-- `` comment block; None when the guide shows none (insert after the statement)."""
    actual_lines: list[str]
    """psql's actual output lines, as printed (aligned format), without line endings."""
    pasted: bool = False
    """The guide pastes the output as psql prints it, without ``-- `` (``Expected.pasted``): the new
    lines are written so too."""


def update_expected(text: str, replacements: list[Replacement]) -> tuple[str, str]:
    """(new text, unified diff): ``text`` with each replacement's comment lines rewritten.

    The new block is ``<indent>-- `` + each of psql's lines, kept exactly as printed (psql pads
    the header line with trailing spaces); an empty line becomes ``<indent>--``.  Leading and
    trailing empty lines of psql's output are dropped.  The indent is the old block's (or the
    statement's, when inserting).  CRLF files keep CRLF.  Raises :class:`RunbookError` for a span
    outside the file, a span that is not a comment block, or replacements that overlap.
    """
    lines = text.split("\n")
    # Each element keeps its "\r" when the file uses CRLF; the last element has no "\n" after it.
    n_lines = len(lines) - 1 if text.endswith("\n") else len(lines)
    edits: list[tuple[int, int, list[str]]] = []  # (first index, end index exclusive, new lines)
    for r in replacements:
        name = r.statement_span.file
        st_end = r.statement_span.end_line
        if not 1 <= r.statement_span.line <= st_end <= n_lines:
            raise RunbookError(f"{r.statement_span}: update-expected: the statement's lines "
                               f"{r.statement_span.line}-{st_end} are outside the file ({n_lines} lines)")
        if r.expected_span is None:
            start = end = st_end  # insert after the statement's last line
            model = lines[r.statement_span.line - 1]
            eol_model = lines[st_end - 1]
        else:
            sp = r.expected_span
            if not st_end < sp.line <= sp.end_line <= n_lines:
                raise RunbookError(f"{sp}: update-expected: expected-output lines {sp.line}-{sp.end_line} "
                                   f"do not follow the statement at {name}:{st_end} inside the file")
            for k in range(sp.line, sp.end_line + 1):
                if not r.pasted and not _COMMENT_RE.match(lines[k - 1]):
                    raise RunbookError(f"{name}:{k}: update-expected: not an expected-output comment line: "
                                       f"{lines[k - 1].rstrip()!r}")
            start, end = sp.line - 1, sp.end_line
            model = eol_model = lines[start]
        m = _COMMENT_RE.match(model) if r.expected_span is not None else re.match(r"^(?P<indent>[ \t]*)", model)
        indent = m.group("indent") if m else ""
        cr = "\r" if eol_model.endswith("\r") else ""
        if r.pasted:  # psql's lines as printed, indented as the code block is (a block in a list item)
            fence = _fence_indent(lines, r.statement_span.line)
            block = _pasted(_trim(r.actual_lines), _rest_of_block(lines, end, fence))
            edits.append((start, end, [(fence + ln if ln else ln) + cr for ln in block]))
        else:
            edits.append((start, end, [_comment(indent, ln) + cr for ln in _trim(r.actual_lines)]))
    edits.sort(key=lambda e: (e[0], e[1]))
    for (s1, e1, _), (s2, e2, _) in zip(edits, edits[1:], strict=False):
        if s2 < e1 or (s1 == s2 and e1 == e2):
            raise RunbookError(f"update-expected: two replacements touch line {s2 + 1}")
    new_lines = list(lines)
    for start, end, block in reversed(edits):
        new_lines[start:end] = block
    new_text = "\n".join(new_lines)
    name = replacements[0].statement_span.file if replacements else "guide.md"
    diff = "\n".join(
        difflib.unified_diff([ln.removesuffix("\r") for ln in lines[:n_lines]],
                             [ln.removesuffix("\r") for ln in new_lines[: len(new_lines) - (len(lines) - n_lines)]],
                             f"a/{name}", f"b/{name}", lineterm="")
    )
    return new_text, diff + ("\n" if diff else "")


def _fence_indent(lines: list[str], line: int) -> str:
    """The indent of the code fence that opens the block holding ``line`` (1-based): the nearest fence
    line above it."""
    for k in range(line - 2, -1, -1):
        m = _FENCE_RE.match(lines[k])
        if m:
            return m.group("indent")
    return ""


def _rest_of_block(lines: list[str], index: int, indent: str) -> list[str]:
    """The lines of the code block from ``lines[index]`` to its closing fence, without the block's indent."""
    rest = []
    for ln in lines[index:]:
        ln = ln.removesuffix("\r")
        if _FENCE_RE.match(ln):
            break
        rest.append(ln.removeprefix(indent))
    return rest


def _pasted(block: list[str], rest: list[str]) -> list[str]:
    """psql's lines to paste before ``rest``, followed by a blank line where the reader would otherwise
    read ``rest`` as more of the output (the expanded display has no ``(N rows)``: it ends at a blank
    line)."""
    if not block or not rest or pasted_output_end(block + rest, 0) == len(block):
        return block
    return [*block, ""]


def _trim(actual: list[str]) -> list[str]:
    out: list[str] = []
    for ln in actual:
        out.extend(ln.removesuffix("\n").removesuffix("\r").split("\n"))
    out = [ln.removesuffix("\r") for ln in out]
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def _comment(indent: str, line: str) -> str:
    return f"{indent}-- {line}" if line else f"{indent}--"
