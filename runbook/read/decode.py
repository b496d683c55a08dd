"""Decode stage: a guide's bytes -> its text, or a clear finding for what is not a readable guide.

The Liquid stage (runbook/read/liquid.py, for documentation sites) comes right after: text -> text.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import GuideError, UsageError
from ..kinds import Severity
from ..model import Finding, Span


def read_guide(path: Path, display: str | None = None) -> str:
    """The guide's text; a clear :class:`GuideError` for what is not a readable guide."""
    name = display or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"{name}: no such file") from exc
    except OSError as exc:
        raise GuideError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    return decode_guide(data, name)


def _utf16(data: bytes) -> str | None:
    """``UTF-16`` (with a byte-order mark), ``UTF-16LE``/``UTF-16BE`` (text with every other byte NUL),
    else None."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = data[:4000]
    if len(head) >= 4:
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return "UTF-16LE"
        if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return "UTF-16BE"
    return None


def decode_guide(data: bytes, name: str) -> str:
    """UTF-8 text without a byte-order mark; empty, binary and non-UTF-8 files fail with their line."""

    def fail(line: int, rule: str, message: str) -> GuideError:
        return GuideError(message, [Finding(rule, Severity.ERROR, message, Span(name, line, line))])

    if not data.strip():
        raise fail(1, "empty-file", "the file is empty: a guide needs a title, an overview and steps")
    utf16 = _utf16(data)
    if utf16:
        raise fail(1, "not-utf8", f"this file is {utf16} text, not UTF-8: runbook reads UTF-8 guides; convert it "
                   f"(e.g. iconv -f {utf16} -t UTF-8)")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise fail(line, "binary-file", "this is a binary file (it contains NUL bytes), not a Markdown guide")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(
            line, "not-utf8", f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded"
        ) from exc
    return text.removeprefix("\ufeff")
