"""What a shell command line starts: its programs, read as the shell reads the line.

Used by the runner's check for programs a target lacks; here because it is reading, not doing.
Redirections are not commands: ``2>/dev/null`` names a file descriptor and a file, and what follows a
subshell's ``)`` (``(cd /tmp && ls) 2>/dev/null``) is its redirections, not a new command.
"""

from __future__ import annotations

import re
import shlex

_PREFIXES = {"sudo", "env", "nohup", "time", "exec", "setsid", "nice", "command", "builtin",
             "do", "then", "else", "elif", "if", "while", "until", "!", "{"}
_SUDO_ARGS = {"-u", "--user", "-g", "--group", "-C", "--close-from", "-D", "--chdir", "-h", "--host", "-p",
              "--prompt", "-r", "--role", "-t", "--type", "-U", "--other-user", "-T", "--command-timeout"}
_PUNCTUATION = ";&|()<>"
_ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _is_redirect(word: str) -> bool:
    """``>``, ``>>``, ``<``, ``>&``, ``&>``, ``<<`` … (shlex gives the descriptor before it apart)."""
    return bool(word) and set(word) <= set("<>&") and bool(set(word) & set("<>"))


def programs(text: str) -> list[str]:
    """The programs a command line starts (the first word of each command of its first line,
    after ``sudo``/``env`` and variable assignments, redirections left out); words the shell expands
    are left out.  Shell keywords and builtins are kept (the runner knows which its shell has)."""
    first = text.split("\n")[0] if "<<" in text else text.replace("\\\n", " ")
    lexer = shlex.shlex(first, posix=True, punctuation_chars=_PUNCTUATION)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError:
        return []
    found: list[str] = []
    start = True
    skip_next = False
    for k, w in enumerate(words):
        nxt = words[k + 1] if k + 1 < len(words) else ""
        if skip_next:
            skip_next = False
            continue
        if w and set(w) <= set(_PUNCTUATION):
            if _is_redirect(w):
                skip_next = True  # its target: a file, a descriptor or a here-document's delimiter
            elif w == ")":
                start = False  # what follows a subshell is its redirections or an operator
            else:
                start = True
            continue
        if not start:
            continue
        if w.isdigit() and _is_redirect(nxt):
            continue  # "2>/dev/null": a file descriptor
        if w in _PREFIXES or w.startswith("-") or _ASSIGNMENT_RE.match(w):
            skip_next = w in _SUDO_ARGS
            continue
        start = False
        if "$" not in w and "`" not in w and set(w) - set("<>"):
            found.append(w)
    return found
