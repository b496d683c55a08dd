"""Stage decode: bytes -> text, or one finding with the line of what makes the file unreadable."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook.errors import GuideError, UsageError
from runbook.read.decode import decode_guide, read_guide


def _finding(data: bytes) -> tuple[str, int, str]:
    with pytest.raises(GuideError) as info:
        decode_guide(data, "g.md")
    (f,) = info.value.findings
    assert f.span.file == "g.md"
    return f.rule, f.span.line, f.message


def test_utf8_text_loses_only_its_byte_order_mark() -> None:
    assert decode_guide("\ufeff# 手順\r\n".encode(), "g.md") == "# 手順\r\n"


@pytest.mark.parametrize("data", [b"", b"  \n\t\n"])
def test_empty_file(data: bytes) -> None:
    assert _finding(data)[:2] == ("empty-file", 1)


def test_binary_file_names_the_line_of_the_first_nul() -> None:
    assert _finding(b"# a\nb\nc\x00d\n")[:2] == ("binary-file", 3)


def test_non_utf8_names_line_byte_and_offset() -> None:
    rule, line, message = _finding(b"# a\ncaf\xe9\n")
    assert (rule, line) == ("not-utf8", 2)
    assert "0xe9" in message and "offset 7" in message


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="shown.md: no such file"):
        read_guide(tmp_path / "absent.md", "shown.md")
