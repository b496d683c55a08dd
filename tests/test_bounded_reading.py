"""Bounded reading (issue 18 point 6): a YAML alias bomb, runaway Liquid, a command printing 50 MB.
What would run away without the bound runs in a child process with a memory limit and a generous
timeout, so that a missing bound fails the test instead of taking the machine down."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from helpers import line_of

from runbook.read.liquid import SiteConfig, render
from runbook.read.yaml_bounded import MAX_VALUES, AliasBomb, load
from runner.running.session import HostShell, Masker, Transcript

PAGE = """---
title: Page
---

# Page {{ site.title }}

## Usage {#usage}

```sql
SELECT 1;
```
"""


def _bomb(levels: int = 9) -> str:
    lines = ["title: ok", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_a_yaml_alias_bomb_in_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "_config.yml").write_text(_bomb(), encoding="utf-8")
    (tmp_path / "page.md").write_text(PAGE, encoding="utf-8")
    cp = subprocess.run([sys.executable, "-m", "runner.cli", "parse", str(tmp_path / "page.md")], cwd=ROOT,
                        capture_output=True, text=True, timeout=60, preexec_fn=_limited, check=False)
    assert cp.returncode == 4, cp.stderr[-2000:]
    # the first value that stands for more than MAX_VALUES: 9**6 at line 7 (the line of f:)
    where = f"{tmp_path / '_config.yml'}:{line_of(_bomb(), 'f: &f [')}: "
    assert where + "site-config: not YAML: its aliases make this value stand for more than" in cp.stderr
    assert "Traceback" not in cp.stderr


def test_aliases_that_stay_small_load_as_before_and_self_reference_is_refused() -> None:
    assert load("a: &a {k: 1}\nb: *a\nc: [*a, *a]\n") == {"a": {"k": 1}, "b": {"k": 1}, "c": [{"k": 1}, {"k": 1}]}
    try:
        load("x: &x\n  - 1\n  - *x\n")
    except AliasBomb as exc:
        assert exc.line == 3 and "refers to the value that holds it" in exc.problem
    else:
        raise AssertionError("a recursive alias loaded")
    assert MAX_VALUES >= 10_000


_LIQUID = """
import sys
from runbook.read.liquid import SiteConfig, render
text = sys.stdin.read()
out, findings = render(text, "p.md", SiteConfig(None, {"title": "t"}))
print(len(out), *[f.rule + ": " + f.message for f in findings], sep="\\n")
"""


def _render_in_child(text: str) -> list[str]:
    cp = subprocess.run([sys.executable, "-c", _LIQUID], input=text, cwd=ROOT, capture_output=True, text=True,
                        timeout=60, preexec_fn=_limited, check=False)
    assert cp.returncode == 0, cp.stderr[-2000:]
    return cp.stdout.splitlines()[1:]


def test_liquid_loops_and_output_are_bounded() -> None:
    loop = _render_in_child("a\n{% for i in (1..100000000) %}x{% endfor %}\nb\n")
    assert loop == ["liquid-syntax: Liquid cannot render this: loop iteration limit reached; the page is read "
                    "unrendered"]
    grow = _render_in_child("{% assign s = 'xxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}"
                            "{% endfor %}{{ s }}\n")
    assert len(grow) == 1 and "limit reached" in grow[0]


def test_ordinary_liquid_still_renders() -> None:
    out, findings = render("# {{ site.title }}\n{% for i in (1..3) %}{{ i }}{% endfor %}\n", "p.md",
                           SiteConfig(None, {"title": "T"}))
    assert out == "# T\n123\n" and findings == []


def _bash() -> HostShell:
    sh = HostShell("local", ["bash", "--noediting", "--noprofile", "--norc", "-i"], Transcript(None, Masker([])),
                   timeout=120)
    sh.start()
    return sh


def test_reading_a_50_mb_output_is_linear_and_capped() -> None:
    """50 MB printed on one line is read through within the command's own timeout (reading was
    quadratic: 5 MB took 13 s, 50 MB far longer than any timeout), and runbook keeps only its head
    and tail (OUTPUT_CAP characters), the middle counted and dropped as it arrived."""
    from runner.running.capture import OUTPUT_CAP

    sh = _bash()
    try:
        res = sh.run("head -c 50000000 /dev/zero | tr '\\0' x; echo; echo done", timeout=120)
        after = sh.run("echo still here")
    finally:
        sh.close()
    assert res.status == 0 and after.output == "still here\n"
    printed = 50_000_000 + len("\ndone\n")
    half = OUTPUT_CAP // 2
    assert res.dropped == printed - OUTPUT_CAP
    head, marker, _ = res.output.split("\n", 2)
    assert head == "x" * half
    assert marker == f"[runbook: output over the 4 MB cap: {printed - OUTPUT_CAP} bytes dropped here]"
    assert res.output.endswith("\n" + "x" * (half - len("\ndone\n")) + "\ndone\n")
    assert len(res.output) == OUTPUT_CAP + len(marker) + 2


def test_the_cap_counts_dropped_bytes_of_multibyte_output() -> None:
    """Dropped output is counted in UTF-8 bytes, whatever the characters (here two bytes each)."""
    from runner.running.capture import OUTPUT_CAP

    sh = _bash()
    try:
        res = sh.run("yes 'ééééééééé' 2>/dev/null | head -n 500000", timeout=120)
    finally:
        sh.close()
    printed = ("é" * 9 + "\n") * 500_000
    half = OUTPUT_CAP // 2
    assert res.status == 0
    assert res.dropped == len(printed[half:-half].encode())
    assert res.output == (printed[:half] + f"\n[runbook: output over the 4 MB cap: {res.dropped} bytes dropped here]\n"
                          + printed[-half:])


def test_output_under_the_cap_is_kept_whole() -> None:
    sh = _bash()
    try:
        res = sh.run("seq 1 300000", timeout=120)
    finally:
        sh.close()
    assert res.dropped == 0 and res.output == "".join(f"{i}\n" for i in range(1, 300_001))
