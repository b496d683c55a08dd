"""`runbook run` end to end when a guide's step goes wrong: a failing command, a check that does not
match, a before text missing (the file left untouched), a hanging command and a prompt that never
comes (ended by --timeout), an address outside loopback refused, output over the cap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e import down, needs_sandbox
from e2e import variant as _variant
from helpers import bound_pg_version
from run_support import _all_text, _failed, _report

from runner.cli import main as run

pytestmark = [needs_sandbox, pytest.mark.sandbox]


def test_fault_failing_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "fault-command", "sudo -H systemctl restart postgresql",
                     "sudo -H systemctl restart postgresql\nls /no/such/dir")
    status, data, _ = _report(tmp_path, guide)
    assert status == 1
    failed = _failed(data)
    assert failed["step"] == "configure-primary" and "status 2" in failed["message"]
    assert "ls /no/such/dir" in failed["message"] and "No such file" in failed["details"]
    steps = {s["id"]: s["status"] for s in data["steps"]}
    assert steps == {"install-postgresql": "passed", "configure-primary": "failed", "check-data": "not-run"}


def test_fault_check_does_not_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "fault-check", "--  pear  |   150", "--  pear  |   170")
    status, data, _ = _report(tmp_path, guide)
    assert status == 1
    failed = _failed(data)
    (check,) = [c for c in failed["checks"] if c["status"] == "failed"]
    assert check["problems"] == ["row 2, price: expected '170', got '150'"]
    text = guide.read_text().split("\n")
    assert text[check["line"] - 1].startswith("SELECT name, price")
    assert "expected at line" in failed["message"]


def test_fault_before_text_missing_leaves_file_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner.sandbox import Sandbox

    guide = _variant(tmp_path, "fault-before", "#listen_addresses = 'localhost'", "#listen_addresses = 'nowhere'")
    try:
        status, data, _ = _report(tmp_path, guide, "--keep")
        assert status == 1
        failed = _failed(data)
        assert "before text is not in the file" in failed["message"] and "file left untouched" in failed["message"]
        assert "#listen_addresses = 'nowhere'" in failed["details"]
        assert "#listen_addresses = 'localhost'" in failed["details"]  # the closest line is shown
        sb = Sandbox.load(guide.stem)
        v = bound_pg_version()
        conf = sb.run("primary", ["cat", f"/etc/postgresql/{v}/main/postgresql.conf"]).stdout
        sample = Path(f"/usr/share/postgresql/{v}/postgresql.conf.sample").read_text()
        assert "#listen_addresses = 'localhost'\t\t# what IP address(es) to listen on;" in conf
        assert sb.run("primary", ["ls", f"/etc/postgresql/{v}/main/"]).stdout.count("runbook") == 0
        assert len(conf.splitlines()) == len(sample.splitlines())
    finally:
        down(guide.stem)


def test_fault_hanging_command_times_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "fault-hang", "sudo -H systemctl restart postgresql",
                     "echo waiting-for-godot; sleep 600")
    status, data, _ = _report(tmp_path, guide, "--timeout", "15")
    assert status == 1
    failed = _failed(data)
    assert "no prompt after 15s" in failed["message"]
    assert "waiting-for-godot" in failed["details"]


def test_sandbox_refuses_addresses_outside_loopback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner.sandbox import DEFAULT_ROOT

    guide = _variant(tmp_path, "unsafe", "sudo -H systemctl restart postgresql",
                     "sudo -H systemctl restart postgresql\npsql --host 10.20.30.40 --command 'SELECT 1' blog")
    status = run(["run", str(guide)])
    err = capsys.readouterr().err
    assert status == 4
    assert re.search(r"unsafe\.md:\d+: unsafe-address: command would reach 10\.20\.30\.40", err)
    assert not (DEFAULT_ROOT / "unsafe").exists()


def test_fault_prompt_that_never_comes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = _variant(tmp_path, "fault-prompt", "```bash\nsudo -H systemctl restart postgresql\n```",
                     "```console\n$ echo no-prompt-here\nPassword: (secret)\n```")
    status, data, _ = _report(tmp_path, guide, "--timeout", "5")
    assert status == 1
    failed = _failed(data)
    assert "the prompt 'Password:' never came" in failed["message"]
    assert "no-prompt-here" in failed["details"]


def test_output_over_the_cap_fails_its_check_and_passes_unchecked(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Output over runbook's cap (4 MB kept of one command's output, head and tail): a command nobody
    checks passes with a note; a check of such output fails with a clear message, never comparing
    what is left."""
    from runner.running.capture import OUTPUT_CAP

    guide = _variant(tmp_path, "over-cap", "```bash\nsudo -H systemctl restart postgresql\n```",
                     "```bash\nsudo -H systemctl restart postgresql\nseq 1 1000000\n```\n\n"
                     "```console\n$ seq 2 1000000\n2\n3\n```")
    status, data, _ = _report(tmp_path, guide)
    assert status == 1
    unchecked = len("".join(f"{i}\n" for i in range(1, 1_000_001))) - OUTPUT_CAP
    checked = unchecked - len("1\n")
    failed = _failed(data)
    assert failed["message"].endswith(f"output over the 4 MB cap: {checked} bytes dropped: not compared with the "
                                      "guide's output"), failed["message"]
    notes = [n for s in data["steps"] for a in s["actions"] for n in a.get("notes", [])]
    assert any(n.endswith(f"output over the 4 MB cap: {unchecked} bytes dropped (not checked)") for n in notes), notes
    transcript = _all_text(*(tmp_path / "t").rglob("*.log"))
    assert f"[runbook: output over the 4 MB cap: {unchecked} bytes dropped here]" in transcript


def test_sql_output_over_the_cap_fails_its_check_and_passes_unchecked(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The same cap for one SQL statement's output (real psql): a statement whose result nobody checks
    passes with a note, a checked one fails with the cap's message."""
    guide = _variant(tmp_path, "over-cap-sql", "SET enable_seqscan TO off;\nSELECT name, price FROM items",
                     "SELECT repeat('x', 3000000) AS big;\nSET enable_seqscan TO off;\n"
                     "SELECT name, price, repeat('y', 3000000) AS pad FROM items")
    status, data, _ = _report(tmp_path, guide)
    assert status == 1
    failed = _failed(data)
    # aligned output: the header centred over 3 MB, the dashes and the values (3 MB each): over 9 MB
    m = re.search(r"output over the 4 MB cap: (\d+) bytes dropped: not compared with the guide's output$",
                  failed["message"])
    assert m and int(m.group(1)) > 9_000_000 - 4 * 1024 * 1024, failed["message"]
    notes = [n for s in data["steps"] for a in s["actions"] for n in a.get("notes", [])]
    assert any(re.search(r"output over the 4 MB cap: \d+ bytes dropped \(not checked\)$", n) for n in notes), notes
    assert not any(c["status"] == "failed" and c["problems"] for c in failed["checks"]), failed["checks"]
