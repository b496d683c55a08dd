"""``runbook sandbox up|status|down GUIDE.md``, ``runbook sandbox setup``: the embedded sandbox of a guide.

The main CLI creates the sub-parser, calls :func:`add_arguments` on it, computes the hosts
(names and loopback addresses) and the sandbox name from the guide, then calls :func:`run`.

Exit status: 0 on success (``status``: every host is up), 3 for ``status`` when the sandbox is
not (fully) up, 3 when the environment does not allow it (SandboxError: not root, something the
sandbox needs is not installed (``setup`` installs it), an occupied address), 2 for a user's mistake
(a bad sandbox or host name, a sandbox up with other hosts: "run down first"); message on stderr,
no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from runner.sandbox import (
    DEFAULT_ROOT,
    DEFAULT_USER,
    Sandbox,
    SandboxError,
    SandboxHost,
    cleanup_all,
    list_sandboxes,
    setup,
)

ACTIONS = ("up", "status", "down", "setup")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``sandbox`` sub-command's arguments to ``parser``."""
    parser.add_argument("action", choices=ACTIONS,
                        help="create the hosts / show them / remove them / install what the sandbox needs")
    parser.add_argument("guide", nargs="?", help="the guide (Markdown) whose hosts the sandbox provides")
    parser.add_argument(
        "--name",
        dest="sandbox_name",
        default=None,
        help="sandbox name (default: derived from the guide)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=DEFAULT_ROOT,
        help=f"folder holding the sandboxes' state (default: {DEFAULT_ROOT})",
    )
    parser.add_argument(
        "--user",
        default=DEFAULT_USER,
        help=f"the hosts' regular user, the guide's ${{USER}} (default: {DEFAULT_USER})",
    )
    parser.add_argument(
        "--no-speed",
        dest="speed",
        action="store_false",
        help="do not add the speed settings (checkpoint_completion_target = 0) to the clusters it creates",
    )
    parser.add_argument("--json", action="store_true", help="status: print JSON")
    parser.add_argument(
        "--all",
        action="store_true",
        help="down: remove every sandbox under --root; status: show every sandbox",
    )


def run(args: argparse.Namespace, hosts: list[SandboxHost], name: str) -> int:
    """Do ``args.action`` for the sandbox ``name`` with ``hosts``; returns the exit status."""
    try:
        return _run(args, hosts, getattr(args, "sandbox_name", None) or name)
    except SandboxError as e:
        print(f"runbook sandbox: error: {e}", file=sys.stderr)
        return e.exit_status


def _sandbox(args: argparse.Namespace, hosts: list[SandboxHost], name: str) -> Sandbox:
    root = Path(getattr(args, "root", DEFAULT_ROOT))
    user = getattr(args, "user", DEFAULT_USER)
    speed = bool(getattr(args, "speed", True))
    if args.action != "up" and name in list_sandboxes(root):
        return Sandbox.load(name, root)  # the recorded hosts are the truth for status/down
    network = getattr(args, "network", "loopback")
    return Sandbox(name, hosts, root=root, user=user, speed=speed, network=network)


def _run(args: argparse.Namespace, hosts: list[SandboxHost], name: str) -> int:
    root = Path(getattr(args, "root", DEFAULT_ROOT))
    if args.action == "setup":
        done = setup()
        print("runbook sandbox setup: " + ("; ".join(done) if done else "nothing to do, everything is there"))
        return 0
    every = bool(getattr(args, "all", False))
    if args.action == "down":
        if every:
            names = cleanup_all(root)
            print(f"removed {len(names)} sandbox(es){': ' + ', '.join(names) if names else ''}")
            return 0
        sb = _sandbox(args, hosts, name)
        sb.down()
        print(f"sandbox {sb.name}: down (processes stopped, mounts and state removed)")
        return 0
    if args.action == "up":
        sb = _sandbox(args, hosts, name)
        sb.up()
        for h in sb.hosts:
            print(f"sandbox {sb.name}: host {h.name} up at {h.address}, network {sb.network} "
                  f"(state: {sb.host_root(h.name)})")
        return 0
    # status
    names = list_sandboxes(root) if every else [name]
    reports: list[dict[str, Any]] = []
    all_up = True
    for n in names:
        sb = _sandbox(args, hosts, n)
        up = sb.is_up()
        all_up = all_up and up
        reports.append({"name": sb.name, "user": sb.user, "network": sb.network, "up": up, "hosts": sb.status()})
    if getattr(args, "json", False):
        out: Any = reports if every else reports[0]
        print(json.dumps(out, indent=2))
    else:
        _print_status(reports)
    return 0 if all_up and reports else 3


def _print_status(reports: list[dict[str, Any]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a dependency
        for r in reports:
            for h in r["hosts"]:
                print(_plain_line(r, h))
        return
    console = Console()
    if not reports:
        console.print("no sandbox")
        return
    for r in reports:
        table = Table(title=f"sandbox {r['name']} ({'up' if r['up'] else 'down'}, user {r['user']}, "
                            f"network {r['network']})")
        for col in ("host", "address", "up", "clusters", "processes", "memory"):
            table.add_column(col)
        for h in r["hosts"]:
            table.add_row(
                h["name"],
                h["address"],
                "yes" if h["up"] else "no",
                _clusters_text(h["clusters"]),
                str(h["processes"]),
                f"{h['memory_kb'] / 1024:.1f} MiB",
            )
        console.print(table)


def _clusters_text(clusters: list[dict[str, Any]]) -> str:
    if not clusters:
        return "-"
    return ", ".join(f"{c['version']}/{c['cluster']}:{c['port']} {c['status']}" for c in clusters)


def _plain_line(r: dict[str, Any], h: dict[str, Any]) -> str:
    return (
        f"{r['name']} {h['name']} {h['address']} {'up' if h['up'] else 'down'} "
        f"{_clusters_text(h['clusters'])} processes={h['processes']}"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """``runbook sandbox up|status|down GUIDE.md``."""
    parser.description = (
        "Manage the embedded sandbox hosts of a guide: one container per host of the guide's environment "
        "list (its own user, PID, mount, IPC, UTS and network namespaces, an overlay of the machine's system "
        "with a writable layer of its own, limits on processes and memory). `runbook run` brings them up by "
        "itself; this command is for looking around (`status`), cleaning up (`down`, `down --all`) and "
        "installing what the sandbox needs (`setup`: Debian packages, subordinate ids for root). See "
        "docs/sandbox.md."
    )
    add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from runbook.errors import UsageError
    from runbook.load import load_graph
    from runner.launch import sandbox_name
    from runner.planning.binding import sandbox_binding, sandbox_hosts
    from runner.planning.environment import installed_pg_versions
    from runner.sandbox import network_mode

    if args.action == "setup":
        return run(args, [], "")
    if args.guide is None:
        if args.all or args.sandbox_name:
            return run(args, [], args.sandbox_name or "")
        raise UsageError("runbook sandbox: name a guide (or use --name NAME, or --all)")
    path = Path(args.guide)
    graph = load_graph(path)
    versions = installed_pg_versions()
    try:
        args.network, fallback = network_mode()
    except SandboxError as e:
        print(f"runbook sandbox: error: {e}", file=sys.stderr)
        return e.exit_status
    if fallback and args.action == "up":
        print(f"runbook sandbox: network loopback (not a namespace per host) because {fallback}", file=sys.stderr)
    binding = sandbox_binding(graph, versions[-1] if versions else None, args.network)
    hosts = [SandboxHost(h, a) for h, a in sandbox_hosts(graph, binding, args.network)]
    return run(args, hosts, sandbox_name(path))
