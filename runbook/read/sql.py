"""SQL blocks as psql reads them: statements, meta-commands, expected output and prose in comments.

Statements end with ``;`` outside quotes, or at a psql meta-command that sends the query buffer
(``\\g``, ``\\gx``, ``\\gset``, ``\\gexec``, ``\\gdesc``, ``\\crosstabview``, ``\\watch``; arguments
allowed) at the end of the statement's line or on the next line: the meta-command stays in the
statement, which psql is sent as written (:func:`sent_by` names it).  A backslash outside quotes
begins psql's meta-commands: the rest of its line is theirs, never SQL.  The ``-- `` comments between
statements are told apart as expected output or as prose inside SQL.

A comment is a statement's expected output when it follows the statement (blank lines between
allowed, no other statement) and is shaped like psql's output (:func:`~runbook.psql_output.looks_like_output`):
each output belongs to the statement before it, so a block may interleave several statements and
their results.  Any other comment is prose: kept on the statement it is in, or on the one it comes
before (the last statement's, at the end of the block), never checked and never dropped.

Output pasted as psql prints it, without ``-- `` (a header and its rule line, rows and ``(N rows)``,
a command tag, ``ERROR:`` with its ``DETAIL:``/``LINE n:`` lines, ``NOTICE:`` lines), right after a
statement, is that statement's expected output (``pasted``): it is not sent to psql
(:func:`~runbook.psql_output.pasted_output_end` tells its shape and its end).

A block none of whose lines ends a statement (``column LIKE pattern``), or that writes ``${NAME}``
placeholders outside quotes, shows a syntax: :func:`is_syntax`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..kinds import ExpectedKind, ProseRole, Severity
from ..model import Finding, Prose, Span, Statement
from ..psql_output import looks_like_output, parse_expected, parse_output, pasted_output_end

_DOLLAR_RE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_SPECIAL_RE = re.compile(r"--|/\*|['\"$\\]")
"""Where a quote, a comment, a dollar quote or a meta-command may begin, outside quotes."""
SENDS = frozenset({"g", "gx", "gset", "gexec", "gdesc", "crosstabview", "watch"})
"""psql's meta-commands that send the query buffer: they end a statement as ``;`` does."""
_WHOLE_LINE = frozenset({"!", "copy", "h", "help", "sf", "sf+", "sv", "sv+", "ef", "ev"})
"""Meta-commands whose argument is the rest of the line, backslashes and quotes included."""
_META_NAME_RE = re.compile(r"[^\s\\]*")
_META_ARG_RE = re.compile(r"[^\\'\"`]+|'(?:''|\\.|[^'\\])*'?|\"[^\"]*\"?|`[^`]*`?", re.DOTALL)
_QUOTE_END_RE = re.compile(r"''|'")
_E_QUOTE_END_RE = re.compile(r"\\.|''|'", re.DOTALL)
_PLACEHOLDER_RE = re.compile(r"\$\{[A-Za-z_][^}]*\}")
_COMMENT_PREFIX_RE = re.compile(r"^\s*--\s?")
_DOUBLED_ROWS_RE = re.compile(r"^\s*--\s*\(\d+ rows?\)\s*$")


@dataclass(slots=True)
class ScannedLine:
    """One line of SQL: its code (comment removed) and its ``--`` comment, if any."""

    number: int
    text: str
    code: str
    comment: str | None
    quoted: bool
    """The line ends inside a string, a quoted identifier, a dollar-quoted body or a block comment."""
    bare: str = ""
    """The code outside strings, quoted identifiers, dollar-quoted bodies and block comments."""
    meta: str | None = None
    """The line's psql meta-commands: from its first backslash outside quotes to its end (psql reads
    the rest of the line as meta-commands and their arguments: ``\\gx``, ``\\gset v_``, ``\\echo 'a'``)."""

    @property
    def sends(self) -> bool:
        """A meta-command of the line sends the query buffer (``\\g``, ``\\gx``, ``\\gset``, ``\\gexec``,
        ``\\gdesc``, ``\\crosstabview``, ``\\watch``): the statement ends on this line, as at ``;``."""
        return any(name in SENDS for name in meta_commands(self.meta))


def meta_commands(meta: str | None) -> list[str]:
    """The names of the meta-commands in a line's ``meta`` (from its first backslash outside quotes),
    as psql parses them: a command's arguments end at the next backslash outside their quotes
    (``'…'`` with ``''`` and backslash escapes, ``"…"``, backquotes), which begins the next command;
    ``\\\\`` goes back to SQL, and ``\\!``, ``\\copy``, ``\\h``, ``\\sf`` … take the rest of the line.
    ``\\echo '\\watch'`` is one command, ``\\echo``; ``\\x \\g`` is two."""
    names: list[str] = []
    i, n = 0, len(meta or "")
    while meta and i < n and meta[i] == "\\":
        if meta.startswith("\\\\", i):
            break
        name = _META_NAME_RE.match(meta, i + 1)
        assert name is not None  # (it matches the empty string)
        names.append(name.group())
        if name.group() in _WHOLE_LINE:
            break
        i = name.end()
        while i < n and meta[i] != "\\":
            arg = _META_ARG_RE.match(meta, i)
            assert arg is not None  # (a character that is not a backslash begins one of its branches)
            i = arg.end()
    return names


class Scanner:
    """Reads SQL line by line, following quotes across lines (``'…'`` with ``''``, ``E'…'`` with
    backslashes, ``"…"``, ``$tag$…$tag$``, ``/* … */``); a backslash outside them begins the line's
    meta-commands."""

    __slots__ = ("quote",)

    def __init__(self) -> None:
        self.quote: str | None = None  # "'", "E'", '"', "/*", or a dollar tag

    def line(self, line: str, number: int) -> ScannedLine:
        """One line split into code and ``--`` comment (jumping from one quote character to the next)."""
        quote = self.quote
        n = len(line)
        i = 0
        comment: str | None = None
        meta: str | None = None
        bare: list[str] = []
        while i < n:
            if quote is None:
                m = _SPECIAL_RE.search(line, i)
                if m is None:
                    bare.append(line[i:])
                    break
                j = m.start()
                token = m.group()
                if token == "--" or token == "\\":
                    bare.append(line[i:j])
                    if token == "--":
                        comment = line[j:]
                    else:
                        meta = line[j:]
                    break
                bare.append(line[i:j + 1])
                i = j + len(token)
                if token == "'":
                    quote = "E'" if j > 0 and line[j - 1] in "eE" and (j < 2 or not line[j - 2].isalnum()) else "'"
                elif token == "$":
                    d = _DOLLAR_RE.match(line, j)
                    if d and not (j > 0 and (line[j - 1].isalnum() or line[j - 1] == "_")):
                        quote, i = d.group(0), d.end()
                else:  # '"' or "/*"
                    quote = token
            elif quote == "'" or quote == "E'":
                m = (_E_QUOTE_END_RE if quote == "E'" else _QUOTE_END_RE).search(line, i)
                if m is None:
                    break
                if m.group() == "'":
                    quote = None
                i = m.end()
            else:
                end = "*/" if quote == "/*" else quote
                k = line.find(end, i)
                if k < 0:
                    break
                quote, i = None, k + len(end)
        self.quote = quote
        body = line if comment is None else line[: n - len(comment)]
        return ScannedLine(number, line, body, comment, quote is not None, "".join(bare), meta)


def scan(code: str, first_line: int) -> list[ScannedLine]:
    """Each line of ``code`` split into code and ``--`` comment, quotes followed across lines."""
    scanner = Scanner()
    return [scanner.line(line, first_line + n) for n, line in enumerate(code.split("\n"))]


def _ends_statement(line: ScannedLine) -> bool:
    return not line.quoted and (line.code.rstrip().endswith(";") or line.sends)


def sent_by(sql: str) -> str | None:
    """The meta-command that sends a statement (or a meta-command line alone) to the server, without
    its backslash (``gx``, ``gset``, ``watch`` …); None for a statement that ends with ``;``."""
    last = scan(sql.rstrip("\n"), 1)[-1]
    return None if last.quoted else next((name for name in meta_commands(last.meta) if name in SENDS), None)


WATCH_REFUSED = ("psql's \\watch repeats the query until it is interrupted: not run "
                 "(end the query with ';' to run it once)")
"""Why a run refuses a statement sent by ``\\watch`` (after ``line N:`` or ``file:line:``)."""


def watch_line(code: str, first_line: int = 1) -> int | None:
    """The line of ``code``'s first ``\\watch`` (a meta-command outside quotes), numbered from
    ``first_line``; None when it has none."""
    for ln in scan(code, first_line):
        if "watch" in meta_commands(ln.meta):
            return ln.number
    return None


def is_syntax(code: str) -> bool:
    """True for a ``sql`` block that shows a syntax rather than statements to run: no line ends a
    statement and no meta-command, or ``${NAME}`` placeholders outside quotes."""
    lines = scan(code, 1)
    if any(_PLACEHOLDER_RE.search(ln.bare) for ln in lines):
        return True
    if not any(ln.code.strip() for ln in lines):
        return True  # only comments: nothing to run
    return not any(_ends_statement(ln) or ln.code.strip().startswith("\\") for ln in lines)


_FIRST_WORD_RE = re.compile(r"^\s*(?:\(\s*)*(?P<word>[A-Za-z]+)")
_OTHER_TAGS = {"END": "COMMIT", "ABORT": "ROLLBACK", "CREATE": "SELECT", "EXECUTE": "", "WITH": ""}
"""Statements whose command tag starts with another word (``END`` -> ``COMMIT``, ``CREATE TABLE … AS``
-> ``SELECT 3``); "": any tag (``EXECUTE``, ``WITH … INSERT``)."""


def _tag_fits(statement: str, tag: str) -> bool:
    """psql's command tag for ``statement`` could be ``tag``: it starts with the statement's first word."""
    m = _FIRST_WORD_RE.match(statement)
    if m is None:
        return False
    word, first = m.group("word").upper(), tag.split()[0]
    return first == word or _OTHER_TAGS.get(word) in ("", first)


def _pasted(raw: list[str], k: int, in_run: bool, statement: str) -> int | None:
    """End (exclusive) of psql's output pasted without ``-- `` from line ``k`` on, else None.  A lone
    command tag counts only where it is the statement's (``UPDATE 1`` after ``UPDATE``): a bare
    ``VACUUM`` after a ``DELETE`` is a statement whose ``;`` is missing."""
    if in_run or not raw[k].strip() or raw[k].lstrip().startswith("--"):
        return None
    end = pasted_output_end(raw, k)
    if end is not None:
        out = parse_output(raw[k:end])
        if out.kind == ExpectedKind.TAG and out.tag is not None and not _tag_fits(statement, out.tag):
            return None
    return end


@dataclass(slots=True)
class _Run:
    """Consecutive ``--`` lines between statements."""

    lines: list[ScannedLine] = field(default_factory=list)


def statements(code: str, first_line: int, file: str) -> tuple[list[Statement], list[Finding]]:
    """The block's statements, each with its expected output and its prose comments; and the defects
    found (a statement without ``;``, an output line written with one ``-``).

    Longer than 60 lines on purpose: one pass over the scanned lines whose small nested helpers share
    the scanner's state (the statement being read, the comments inside it, prose waiting for the next
    statement, the output run after it); split apart, that state would travel through every call."""
    found: list[Statement] = []
    findings: list[Finding] = []
    buf: list[ScannedLine] = []
    inner: list[ScannedLine] = []  # comment lines inside the statement being read
    pending: list[Prose] = []  # prose comments waiting for the next statement
    run: _Run | None = None

    def span(a: int, b: int) -> Span:
        return Span(file, a, b)

    def prose(lines: list[ScannedLine]) -> list[Prose]:
        text = " ".join(_COMMENT_PREFIX_RE.sub("", ln.comment or "").strip() for ln in lines).strip()
        return [Prose(text, span(lines[0].number, lines[-1].number), ProseRole.COMMENT)] if text else []

    def close_run() -> None:
        nonlocal run
        if run is None:
            return
        lines, run = run.lines, None
        body = [_COMMENT_PREFIX_RE.sub("", ln.comment or "", count=1) for ln in lines]
        for k, text in enumerate(body):
            if _DOUBLED_ROWS_RE.match(text):  # "-- -- (3 rows)": a second "-- " before the row count
                body[k] = _COMMENT_PREFIX_RE.sub("", text, count=1)
                findings.append(Finding("expected-output-malformed", Severity.ERROR,
                                        "the row count has a second '-- ' before it (read as the row count)",
                                        span(lines[k].number, lines[k].number)))
        last = found[-1] if found else None
        if last is not None and last.expected is None and not pending and looks_like_output(body):
            last.expected = parse_expected(body, span(lines[0].number, lines[-1].number))
        else:
            pending.extend(prose(lines))

    raw = code.split("\n")
    scanner = Scanner()
    k = -1
    while k + 1 < len(raw):
        k += 1
        if not buf and scanner.quote is None and found and found[-1].expected is None and not pending:
            end = _pasted(raw, k, run is not None, found[-1].sql)
            if end is not None:
                close_run()
                if found[-1].expected is None:  # (a comment run just closed may have been its output)
                    found[-1].expected = parse_expected(raw[k:end], span(first_line + k, first_line + end - 1))
                    found[-1].expected.pasted = True
                    k = end - 1
                    continue
        line = scanner.line(raw[k], first_line + k)
        stripped = line.text.strip()
        if not buf:
            if line.comment is not None and not line.code.strip():
                if run is None:
                    run = _Run()
                run.lines.append(line)
                continue
            nxt = raw[k + 1].strip() if k + 1 < len(raw) else ""
            if (stripped.startswith("-") and found and found[-1].expected is None and nxt.startswith("--")):
                findings.append(Finding("expected-output-malformed", Severity.ERROR,
                                        "expected-output line starts with '-' instead of '-- ' (read as expected "
                                        "output; typed as written it would be SQL)", span(line.number, line.number)))
                if run is None:
                    run = _Run()
                repaired = "-- " + re.sub(r"^\s*- ?", "", line.text)
                run.lines.append(ScannedLine(line.number, line.text, "", repaired, False))
                continue
            close_run()  # a blank line ends a run of comments (output may still come after blank lines)
            if not stripped:
                continue
            if stripped.startswith("\\"):
                found.append(Statement(stripped, span(line.number, line.number), comments=pending))
                pending = []
                continue
        if line.comment is not None:
            inner.append(line)
        buf.append(line)
        if _ends_statement(line):
            comments = pending + prose(inner)
            found.append(Statement("\n".join(ln.text for ln in buf), span(buf[0].number, line.number),
                                   comments=comments))
            buf, inner, pending = [], [], []
    close_run()
    if buf and any(ln.text.strip() for ln in buf):
        while buf and not buf[-1].text.strip():
            buf.pop()
        found.append(Statement("\n".join(ln.text for ln in buf).rstrip(), span(buf[0].number, buf[-1].number),
                               comments=pending + prose(inner)))
        pending = []
        findings.append(Finding("sql-no-semicolon", Severity.WARNING, "SQL statement does not end with ';'",
                                span(buf[0].number, buf[0].number)))
    if pending and found:
        found[-1].comments.extend(pending)
    return found, findings
