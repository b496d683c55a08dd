"""`runbook run` end to end: what runs on several hosts at the same time, shown by the events the
blocks print on the hosts' shared clock (never by durations): a block for several hosts runs on them
at once; per-host variants only where they cannot interfere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from e2e import needs_sandbox
from run_support import PLAIN

from runner.cli import main as run

pytestmark = [needs_sandbox, pytest.mark.sandbox]


def test_a_block_for_several_hosts_runs_on_them_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The install block of the plain guide is for the primary and both standbys: it runs on the
    three at the same time. The block prints when it begins and ends on each host (the hosts share
    the machine's clock): every host began before any ended."""
    text = PLAIN.read_text(encoding="utf-8")
    block = "```bash\nsudo apt install -y gpg lsb-release wget\n"
    assert text.count(block) == 1
    guide = tmp_path / "block-at-once.ja.md"
    guide.write_text(text.replace(block, "```bash\necho rbt-begin $(date +%s%N); sleep 1; echo rbt-end $(date +%s%N)\n"
                                  + block.removeprefix("```bash\n")), encoding="utf-8")
    transcripts = tmp_path / "t"
    status = run(["run", str(guide), "--fresh", "--until", "install-postgresql", "--transcripts", str(transcripts)])
    assert status == 0, capsys.readouterr().err[-3000:]
    seen = {}
    for host in ("primary", "standby1", "standby2"):
        log = (transcripts / "block-at-once.ja" / f"{host}.log").read_text(errors="replace")
        begin, end = (re.findall(rf"^(?:[\d:]+ )?rbt-{what} (\d+)\s*$", log, re.M) for what in ("begin", "end"))
        assert len(begin) == len(end) == 1, log[-2000:]
        seen[host] = (int(begin[0]), int(end[0]))
    assert max(b for b, _ in seen.values()) < min(e for _, e in seen.values()), seen


def test_per_host_variants_run_at_once_only_where_they_cannot_interfere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The `Standby1:` / `Standby2:` pg_basebackup blocks (the same block, each with its own slot
    name) both copy from the primary: they run one after the other, as a person runs them (at once,
    one's checkpoint can remove WAL the other still needs). Blocks that reach no other host run on
    their hosts at the same time. The report keeps the guide's order either way. Each block prints
    when it begins and ends (the hosts share the machine's clock), so the test compares the order of
    those events, not durations."""
    text = PLAIN.read_text(encoding="utf-8")
    block = "```console\n$ sudo -u postgres -H pg_basebackup"
    assert text.count(block) == 2
    ids = ("pg-basebackup-standbys#2", "pg-basebackup-standbys#3")
    mark = "$ echo rbt-begin $(date +%s%N); sleep {s}; echo rbt-end $(date +%s%N)\n"

    def events(name: str, guide_text: str) -> dict[str, tuple[int, int]]:
        guide = tmp_path / f"{name}.ja.md"
        guide.write_text(guide_text, encoding="utf-8")
        report = tmp_path / f"{name}.json"
        transcripts = tmp_path / f"t-{name}"
        status = run(["run", str(guide), "--fresh", "--json", str(report), "--transcripts", str(transcripts),
                      "--until", "pg-basebackup-standbys"])
        assert status == 0, capsys.readouterr().err[-3000:]
        (step,) = [s for s in json.loads(report.read_text())["steps"] if s["id"] == "pg-basebackup-standbys"]
        variants = [a for a in step["actions"] if a["action"] in ids]
        assert [(a["action"], a["host"], a["status"]) for a in variants] == [
            (ids[0], "standby1", "passed"), (ids[1], "standby2", "passed")]
        seen = {}
        for host in ("standby1", "standby2"):
            log = "\n".join(p.read_text(errors="replace") for p in transcripts.rglob(f"{host}*.log"))
            begin, end = (re.findall(rf"^(?:[\d:]+ )?rbt-{what} (\d+)\s*$", log, re.M) for what in ("begin", "end"))
            assert len(begin) == len(end) == 1, log[-2000:]
            seen[host] = (int(begin[0]), int(end[0]))
        return seen

    # copying from the primary: one after the other
    seen = events("variants-in-order", text.replace(block, "```console\n" + mark.format(s=1) +
                                                    "$ sudo -u postgres -H pg_basebackup"))
    assert seen["standby1"][1] <= seen["standby2"][0]  # standby2's block began after standby1's ended
    # blocks that reach only their own host: at once
    local = re.sub(r"```console\n\$ sudo -u postgres -H pg_basebackup --create-slot --slot (standby\d) .*?```",
                   "```console\n" + mark.format(s=2).replace("\\", "\\\\") + "```", text, flags=re.S)
    seen = events("variants-at-once", local)
    assert seen["standby2"][0] < seen["standby1"][1] and seen["standby1"][0] < seen["standby2"][1]  # overlapping
