"""Benchmark (not a test): the streaming-replication fixture with one primary and eight standbys
against the same guide with two, in one invocation (alternating runs of `runbook run`, each on a
fresh sandbox).  Prints min-median-max wall times, the ratio (target: 8 standbys <= 1.5 x 2
standbys), and the peak memory (PSS) of each host while the guide runs.

    .venv/bin/python scripts/bench_scale.py [--repeat N] [--standbys N]      (root)

The 8-standby guide is written from tests/fixtures/guides/streaming-replication-plain.en.md: the
same commands, with standby3 … standby8 (192.168.0.33 …) added to the environment list, a
pg_basebackup block per standby and a last check per standby, exactly as the guide has them for
standby2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "guides" / "streaming-replication-plain.en.md"


def _between(text: str, start: str, end: str) -> str:
    """The part of ``text`` from ``start`` up to and including the first ``end`` after it."""
    i = text.index(start)
    j = text.index(end, i + len(start)) + len(end)
    return text[i:j]


def guide_with_standbys(n: int) -> str:
    """The fixture with ``n`` standbys (n >= 2): each added one is standby2's blocks, renamed."""
    text = FIXTURE.read_text(encoding="utf-8")
    env = _between(text, "  * Standby2:\n", "    * IP address: 192.168.0.32\n")
    backup = _between(text, "Standby2:\n\nYou should use", "1/1 tablespace\n```\n")
    check = _between(text, "Standby2:\n\n```sql\nSET enable_seqscan", "(2 rows)\n```\n")
    envs = "".join("\n" + env.replace("Standby2", f"Standby{k}").replace("192.168.0.32", f"192.168.0.{30 + k}")
                   for k in range(3, n + 1))
    backups = "".join("\n" + backup.replace("standby2", f"standby{k}").replace("Standby2", f"Standby{k}")
                      for k in range(3, n + 1))
    checks = "".join("\n" + check.replace("Standby2", f"Standby{k}") for k in range(3, n + 1))
    text = text.replace(env, env + envs, 1).replace(backup, backup + backups, 1).replace(check, check + checks, 1)
    return text


def _peak_memory(name: str, stop: threading.Event, peaks: dict[str, int]) -> None:
    from runner.sandbox import Sandbox, SandboxError

    while not stop.wait(0.3):
        try:
            sb = Sandbox.load(name)
            for h in sb.hosts:
                peaks[h.name] = max(peaks.get(h.name, 0), sb.memory_kb(h.name))
        except (SandboxError, OSError, ValueError):
            continue


def _cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores; /proc/stat, every process)."""
    with open("/proc/stat", encoding="ascii") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def _once(guide: Path, out: Path) -> tuple[float, dict[str, int]]:
    peaks: dict[str, int] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_peak_memory, args=(guide.stem, stop, peaks), daemon=True)
    watcher.start()
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "runner.cli", "run", str(guide), "--fresh", "--transcripts",
                           str(out)], capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - t0
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        print(proc.stderr[-3000:])
        raise SystemExit(f"runbook run {guide.name} failed ({proc.returncode})")
    return elapsed, peaks


def _script_once(guide: Path) -> float:
    """Seconds of the guide's bound commands as a plain bash script (scripts/bench_run.py's, with every
    speed setting of the runner: the cluster template, the shim's ready-at-once start, data in
    memory), sandbox up and teardown included: the floor of the same work, checking nothing."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_run import plain_script

    from runbook.load import load_graph
    from runner.planning.binding import sandbox_binding, sandbox_hosts
    from runner.planning.environment import installed_pg_versions
    from runner.sandbox import Sandbox, SandboxHost, network_mode

    pg_version = installed_pg_versions()[-1]
    graph = load_graph(guide)
    network, _ = network_mode()
    hosts = [SandboxHost(h, a) for h, a in sandbox_hosts(graph, sandbox_binding(graph, pg_version, network), network)]
    sb = Sandbox("bench-script-" + guide.stem[:30], hosts, network=network)
    t0 = time.monotonic()
    try:
        sb.up()
        b0 = time.monotonic()  # the script names the hosts' processes: written once they are up (not timed)
        script = plain_script(guide, sb, pg_version, template=True)
        build = time.monotonic() - b0
        res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    finally:
        sb.down(fast=True)
    took = time.monotonic() - t0 - build
    if res.returncode != 0:
        print(res.stderr[-2000:])
        raise SystemExit(f"the plain script of {guide.name} failed")
    return took


def _spread(xs: list[float]) -> str:
    return f"{min(xs):.2f}-{statistics.median(xs):.2f}-{max(xs):.2f}s"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="runbook-bench-scale-"))
    try:
        _main(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _main(work: Path) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, alternating (default 3)")
    ap.add_argument("--standbys", type=int, default=8, help="standbys of the large guide (default 8)")
    args = ap.parse_args()
    small, large = work / "scale-2-standbys.en.md", work / f"scale-{args.standbys}-standbys.en.md"
    small.write_text(guide_with_standbys(2), encoding="utf-8")
    large.write_text(guide_with_standbys(args.standbys), encoding="utf-8")
    _once(small, work / "t")  # warm-up: page cache, the cluster template
    times: dict[Path, list[float]] = {small: [], large: []}
    floor: dict[Path, list[float]] = {small: [], large: []}
    memory: dict[Path, dict[str, int]] = {small: {}, large: {}}
    cpu: dict[tuple[str, Path], list[float]] = {(w, g): [] for w in ("run", "script") for g in (small, large)}
    for _ in range(args.repeat):
        for g in (small, large):
            c0 = _cpu_seconds()
            t, peaks = _once(g, work / "t")
            cpu["run", g].append(_cpu_seconds() - c0)
            times[g].append(t)
            for h, kb in peaks.items():
                memory[g][h] = max(memory[g].get(h, 0), kb)
            c0 = _cpu_seconds()
            floor[g].append(_script_once(g))
            cpu["script", g].append(_cpu_seconds() - c0)
    ratios = [b / a for a, b in zip(times[small], times[large], strict=True)]
    floor_ratios = [b / a for a, b in zip(floor[small], floor[large], strict=True)]
    print(f"runbook run: 2 standbys: {_spread(times[small])}; {args.standbys} standbys: {_spread(times[large])}; "
          f"ratio {min(ratios):.3f}-{statistics.median(ratios):.3f}-{max(ratios):.3f} (target <= 1.5); "
          f"{args.repeat} alternating runs each")
    print(f"plain script of the same commands (the floor): 2 standbys: {_spread(floor[small])}; "
          f"{args.standbys} standbys: {_spread(floor[large])}; ratio {min(floor_ratios):.3f}-"
          f"{statistics.median(floor_ratios):.3f}-{max(floor_ratios):.3f}")
    per_host = [r / f for r, f in zip(times[large], floor[large], strict=True)]
    cpu_ratio = statistics.median(cpu["run", large]) / statistics.median(cpu["script", large])
    print(f"runbook run / plain script at {args.standbys} standbys: wall {min(per_host):.3f}-"
          f"{statistics.median(per_host):.3f}-{max(per_host):.3f} (each run against the script run right after "
          f"it; target <= 1.1), machine CPU {cpu_ratio:.3f}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set here: each `runbook run` compiled runbook's own modules again "
              "(an installed runbook has them compiled)")
    cores = os.cpu_count() or 1
    for way in ("run", "script"):
        a, b = statistics.median(cpu[way, small]), statistics.median(cpu[way, large])
        best = statistics.median(cpu[way, large]) / cores / statistics.median(times[small])
        print(f"machine CPU (median, all processes) {'runbook run' if way == 'run' else 'plain script'}: "
              f"2 standbys {a:.2f} s, {args.standbys} standbys {b:.2f} s; on {cores} cores the {args.standbys}-standby "
              f"work needs at least {b / cores:.2f} s of wall, {best:.2f} x the 2-standby run's median wall")
    for g in (small, large):
        per = ", ".join(f"{h} {kb / 1024:.1f}" for h, kb in sorted(memory[g].items()))
        total = sum(memory[g].values()) / 1024
        print(f"peak memory (PSS, MiB) {g.stem}: {per}; total {total:.1f}")


if __name__ == "__main__":
    main()
