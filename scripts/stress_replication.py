"""Stress run (not a test): the replication guides of docs/guides/ run again and again, several runs at
once, each with ``runbook run`` on a sandbox of its own (the same guide at once gets ``NAME-2`` …).
Prints every run that failed with its first failed action, and the totals (target: 0 failures).

    .venv/bin/python scripts/stress_replication.py [--times 20] [-j 3] [--guide PATTERN]     (root)

Each replication guide runs ``--times`` times (20: 200 runs for the ten guides of docs/guides/),
the guides taken in turn so that different guides run at once.  A run blocked by the environment
(PGroonga not installed) is counted apart: it is not a failure of the guide.  Exit status 1 when a
run failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDES = ROOT / "docs" / "guides"


@dataclass
class Outcome:
    n: int
    guide: str
    exit_status: int
    status: str
    seconds: float
    problem: str = ""


def replication_guides(pattern: str) -> list[Path]:
    return sorted(p for p in GUIDES.glob("*.md") if "replication" in p.name and pattern in p.name)


def _first_problem(report: Path, stderr: str) -> str:
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return stderr.strip().splitlines()[-1] if stderr.strip() else "no report"
    for step in data["steps"]:
        for a in step["actions"]:
            if a["status"] == "failed":
                return f"{step['id']} on {a['host']}: {a['message']}"[:400]
    return ""


def one_run(n: int, guide: Path, out: Path, timeout: float) -> Outcome:
    report, transcripts = out / f"run{n:03d}.json", out / f"run{n:03d}"
    t0 = time.monotonic()
    try:
        cp = subprocess.run([sys.executable, "-m", "runner.cli", "run", str(guide), "--json", str(report),
                             "--transcripts", str(transcripts)], cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Outcome(n, guide.name, -1, "timeout", time.monotonic() - t0, f"no end within {timeout:g}s")
    seconds = time.monotonic() - t0
    status = {0: "passed", 1: "failed", 3: "blocked"}.get(cp.returncode, f"exit {cp.returncode}")
    problem = "" if status in ("passed", "blocked") else _first_problem(report, cp.stderr)
    return Outcome(n, guide.name, cp.returncode, status, seconds, problem)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--times", type=int, default=20, help="runs of each guide (default 20)")
    p.add_argument("-j", "--jobs", type=int, default=3, help="runs at the same time (default 3)")
    p.add_argument("--guide", default="", help="only the replication guides whose name contains this")
    p.add_argument("--timeout", type=float, default=900, help="seconds a run may take (default 900)")
    args = p.parse_args()
    guides = replication_guides(args.guide)
    if not guides:
        print(f"no replication guide in {GUIDES} matches {args.guide!r}", file=sys.stderr)
        return 2
    work = [(n, guides[n % len(guides)]) for n in range(args.times * len(guides))]
    total = len(work)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="runbook-stress-") as tmp:
        out = Path(tmp)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(one_run, n, g, out, args.timeout) for n, g in work]
            outcomes = []
            for f in futures:
                o = f.result()
                outcomes.append(o)
                print(f"run {o.n + 1:>3}/{total} {o.guide:<48} {o.status:<8} {o.seconds:6.1f}s"
                      + (f"  {o.problem}" if o.problem else ""), flush=True)
    failed = [o for o in outcomes if o.status not in ("passed", "blocked")]
    counts = {s: sum(o.status == s for o in outcomes) for s in ("passed", "blocked")}
    print(f"\n{total} runs ({args.times} of each of {len(guides)} replication guides), {args.jobs} at once, in "
          f"{time.monotonic() - t0:.0f}s: {counts['passed']} passed, {counts['blocked']} blocked by the "
          f"environment, {len(failed)} failed")
    for o in failed:
        print(f"  FAILED run {o.n + 1} {o.guide}: {o.problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
