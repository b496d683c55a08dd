"""A statement psql does not see the end of (no ``;``, an open quote, COPY data): its input cleared as a
person would (Ctrl-C; COPY's data ended with ``\\.``) and the session put back in step, for
:meth:`HostShell.sql <runner.running.session.HostShell.sql>`."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import HostShell

_OPEN = {"'": "an open quote", '"': "an open double quote", "(": "an open parenthesis",
         "*": "an open comment", "$": "an open dollar quote", "-": "no ';' ends it",
         "C": "COPY data: no line '\\.' ends it"}
"""psql's ``%R`` in its continuation prompt: why it waits."""


def why_open(state: str) -> str:
    """Why psql waits, from its continuation prompt's ``%R``."""
    return _OPEN.get(state, "no ';' ends it")


_HEREDOC_RE = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def why_shell_open(command: str) -> str:
    """Why bash waits for more of ``command``: a guess from its text (bash's continuation prompt does
    not say, as psql's does). Here-documents' bodies are not code: their quotes open nothing."""
    code: list[str] = []
    awaited: list[tuple[bool, str]] = []  # the here-documents' end lines still to come (<<- strips tabs)
    for line in command.rstrip().split("\n"):
        if awaited:
            strip, word = awaited[0]
            if (line.lstrip("\t") if strip else line) == word:
                awaited.pop(0)
            continue
        code.append(line)
        awaited += [(m.group(1) == "-", m.group(3)) for m in _HEREDOC_RE.finditer(line)]
    if awaited:
        return f"a here-document with no line {awaited[0][1]} to end it"
    try:
        shlex.split("\n".join(code), comments=True)
    except ValueError as exc:
        return "a backslash at the end" if "escaped" in str(exc) else "an open quote"
    for end in ("&&", "||", "|"):
        if code[-1].rstrip().endswith(end):
            return f"a line ending in {end}"
    return "an unfinished if, for, while, case, function, ( or {"


def clear_input(sh: HostShell, state: str) -> bool:
    """Clear psql's query buffer; True when psql is at its main prompt again (else the session is lost)."""
    assert sh.child is not None
    if state == "C":  # COPY … FROM stdin waits for its data: end it
        sh.child.sendline("\\.")
        idx, _, _ = sh._expect([sh.sql_prompt_re], 5)
    else:  # a Ctrl-C that comes after psql printed its prompt but before it reads again is lost: again
        sent = 0
        while True:
            sent += 1
            sh.child.sendintr()
            sh.transcript.write("note", "Ctrl-C: clearing psql's input" if sent == 1 else
                                f"Ctrl-C again ({sent}): psql printed no prompt within 1s")
            idx, _, _ = sh._expect([sh.sql_prompt_re], 1)
            if idx != 2 or sent == 5:  # (the prompt, or the end of the session)
                break
        if idx == 0 and sent > 1:  # each Ctrl-C psql got printed a prompt: read up to a mark of its own
            idx = _resync(sh)
    return idx == 0


def _resync(sh: HostShell) -> int:
    """After Ctrl-Cs some of which psql may have printed a prompt for (a line typed as one arrives
    may be lost with it): echo numbered marks until one comes back, and read up to the prompt
    after it, so that no prompt of before is taken for the next statement's. 0 when in step."""
    for k in range(5):
        mark = f"__RBS_{sh.nonce}_{k}__"
        assert sh.child is not None
        sh.child.sendline(f"\\echo {mark}")
        idx, _, _ = sh._expect([re.compile(re.escape(mark) + r"\r?\n")], 1)
        if idx == 0:
            idx, _, _ = sh._expect([sh.sql_prompt_re], 5)
            if idx == 0:
                sh.transcript.write("note", f"psql in step again (its mark {k} came back)")
            return idx
        if idx == 1:
            return idx
    return 2


