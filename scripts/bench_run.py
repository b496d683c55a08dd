"""Benchmark (not a test): `runbook run` against a plain bash script of the same bound commands.

Both run on a fresh embedded sandbox (a network namespace per host where the machine allows it),
alternating, in the same invocation; the whole `runbook run` process is timed against the script
plus its sandbox's up and teardown.  Prints min-median-max of both, their ratio (target: runner <=
0.8 x the script), and the script's sandbox up + teardown time with its servers running (target
<= 1 s).  The script gets the guide's own cluster creation (`pg_createcluster`, an initdb per
host) and `systemctl start` waiting for pg_ctlcluster, and only the conf.d speed setting
(checkpoint_completion_target = 0, without which both wait about 50 s per pg_basebackup); the
runner has all its speed settings (docs/sandbox.md).

    .venv/bin/python scripts/bench_run.py [--repeat N] [GUIDE ...]     (root; default: the fully runnable fixture,
                                                            and the PGroonga guide where PGroonga is installed)

The plain script runs each action's bound commands in the guide's order through the sandbox's own
entry (crun exec + the guide's user), multi-host actions in parallel (`&` + `wait`), answers password
prompts on standard input (no controlling terminal: `setsid -w`), SQL blocks through `psql` with a
heredoc, and file edits with a
small embedded python3 replacement.  It checks nothing: it is the floor a runner cannot beat.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from runbook.load import load_graph
from runner.planning.binding import sandbox_binding, sandbox_hosts
from runner.planning.environment import installed_pg_versions, pgroonga_installed
from runner.planning.inventory import default_inventory, secret_values
from runner.planning.plan import build_plan
from runner.sandbox import Sandbox, SandboxHost, network_mode

ROOT = Path(__file__).resolve().parent.parent

EDIT_PY = r"""
import re, sys
path, before, after = sys.argv[1], sys.argv[2], sys.argv[3]
def norm(s):
    s = s.strip()
    return " ".join((s[:1] + re.sub(r"\s#.*$", "", s[1:])).split())
lines = open(path).read().split("\n")
b = [x for x in before.split("\n") if x.strip()]
a = [x for x in after.split("\n") if x.strip()]
insert = [norm(x) for x in a[:len(b)]] == [norm(x) for x in b]
for i in range(len(lines)):
    if [norm(x) for x in lines[i:i + len(b)]] == [norm(x) for x in b]:
        lines[i:i + len(b)] = a if not insert else lines[i:i + len(b)] + a[len(b):]
        break
else:
    sys.exit("before text not found")
open(path, "w").write("\n".join(lines))
"""


def plain_script(guide: Path, sandbox: Sandbox, pg_version: str, *, template: bool = False) -> str:
    """The bound commands of ``guide`` as a bash script (``template``: the install step creates the
    cluster from the cached template, as the runner's speed settings do)."""
    graph = load_graph(guide)
    plan = build_plan(graph, default_inventory(graph),
                      create_cluster=sandbox.create_cluster_command(pg_version, template=template),
                      pg_version=pg_version, network=sandbox.network)
    secrets = secret_values(graph, plan.inventory)
    out = ["#!/bin/bash", "set -euo pipefail"]
    for step in plan.graph.steps:
        if step.id in plan.blocked:
            break
        out.append(f"# {step.id}")
        for action in step.actions:
            jobs = []
            for host in action.targets:
                user_sh = shlex.join(sandbox.exec_argv(host, ["bash", "-s"], user=sandbox.user))
                root_sh = shlex.join(sandbox.exec_argv(host, ["bash", "-s"]))
                body: list[str] = ["set -e"]
                if action.kind in ("shell", "console"):
                    for i, cmd in enumerate(action.commands):
                        text, _ = plan.command_text(action.id, i, cmd.text)
                        if not text:
                            continue
                        if cmd.opens_session:
                            continue  # the SQL blocks open their own psql below
                        if cmd.dialog:
                            answers = "".join(
                                (secrets.get(t.answer.var or "", "") if t.answer.var else t.answer.literal or "")
                                + "\n" for t in cmd.dialog)
                            body.append(f"printf %s {shlex.quote(answers)} | setsid -w bash -c {shlex.quote(text)}")
                        else:
                            body.append(text)
                    jobs.append(f"{user_sh} <<'RB_EOF'\n" + "\n".join(body) + "\nRB_EOF")
                elif action.kind == "sql":
                    session = plan.graph.session(action.sessions[host])
                    sql = "\n".join(st.sql for st in action.statements)
                    jobs.append(f"{user_sh} <<'RB_EOF'\npsql -X -q {shlex.quote(session.database or '')} "
                                f"<<'RB_SQL' >/dev/null\n{sql}\nRB_SQL\nRB_EOF")
                elif action.kind == "file_edit":
                    cmd = shlex.join(["python3", "-c", EDIT_PY, action.path or "", action.before or "",
                                      action.after or ""])
                    jobs.append(f"{root_sh} <<'RB_EOF'\n{cmd}\nRB_EOF")
                elif action.kind == "file_write":
                    jobs.append(f"{root_sh} <<'RB_EOF'\ncat > {shlex.quote(action.path or '')} <<'RB_FILE'\n"
                                f"{action.after}RB_FILE\nRB_EOF")
            if len(jobs) > 1:
                out += [f"( {j}\n) &" for j in jobs] + ["wait"]
            else:
                out += jobs
    return "\n".join(out) + "\n"


def _spread(xs: list[float]) -> str:
    return f"{min(xs):.2f}-{statistics.median(xs):.2f}-{max(xs):.2f}s"


def bench(guide: Path, repeat: int) -> None:
    _once(guide)  # warm-up (page cache; the runner's cluster template is made on a first run)
    runs = [_once(guide) for _ in range(repeat)]
    r = [x[0] for x in runs]
    p = [x[1] for x in runs]
    updown = [x[2] for x in runs]
    ratio = [x / y for x, y, _ in runs]
    each = ", ".join(f"{x:.2f}/{y:.2f}" for x, y, _ in runs)
    print(f"{guide.name}: {repeat} alternating runs (min-median-max): runbook run {_spread(r)}, plain bash script "
          f"{_spread(p)}; ratio {min(ratio):.3f}-{statistics.median(ratio):.3f}-{max(ratio):.3f} (target <= 0.8); "
          f"sandbox up + teardown with servers running {_spread(updown)} (target <= 1 s); "
          f"runs (runbook/script): {each}")


def _once(guide: Path) -> tuple[float, float, float]:
    pg_version = installed_pg_versions()[-1]
    graph = load_graph(guide)
    network, _ = network_mode()
    binding = sandbox_binding(graph, pg_version, network)
    name = "bench-" + guide.name.removesuffix(".md")[:40]
    hosts = [SandboxHost(h, a) for h, a in sandbox_hosts(graph, binding, network)]
    # 1. runbook run on a fresh sandbox: the whole process
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "run", str(guide), "--fresh",
                           "--transcripts", "/tmp/runbook-bench"], capture_output=True, text=True, check=False)
    runner_time = time.monotonic() - t0
    if proc.returncode not in (0, 3):
        print(proc.stderr[-2000:])
        raise SystemExit(f"runbook run failed ({proc.returncode})")
    # 2. the plain script on a fresh sandbox (up/down included, as in the runner's time)
    sb = Sandbox(name, hosts, network=network)
    Path("/tmp/runbook-bench").mkdir(exist_ok=True)
    t0 = time.monotonic()
    try:
        sb.up()
        up = time.monotonic() - t0
        script = plain_script(guide, sb, pg_version)  # (the hosts' entry names their running containers)
        Path(f"/tmp/runbook-bench/{name}.sh").write_text(script)
        for h in hosts:  # the script gets pg_ctlcluster's own wait at `systemctl start`, as the guide would
            sb.run(h.name, ["rm", "-f", "/usr/local/sbin/runbook-fast-start"])
        res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    finally:
        t1 = time.monotonic()
        sb.down(fast=True)
        down = time.monotonic() - t1
    script_time = time.monotonic() - t0
    if res.returncode != 0:
        print(res.stderr[-2000:])
        raise SystemExit("the plain script failed")
    return runner_time, script_time, up + down


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("guides", nargs="*")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, alternating (default 3)")
    args = ap.parse_args()
    guides = [Path(g) for g in args.guides] or [ROOT / "tests/fixtures/guides/streaming-replication-plain.ja.md"]
    if not args.guides and pgroonga_installed(installed_pg_versions()[-1]):
        guides.append(ROOT / "docs/guides/streaming-replication-wal-resource-manager.ja.md")
    for g in guides:
        bench(g, args.repeat)


if __name__ == "__main__":
    main()
