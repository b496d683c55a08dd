"""Launch a guide's run and land its hosts: graph, inventory, plan, hosts (the sandbox up), runner, tear-down.

:func:`runner.orchestrate.run_guide` runs a guide from here (``runbook run`` and the pytest plugin)::

    run = GuideRun(path, RunOptions())      # reads and binds; starts nothing (``run.plan`` can be shown)
    runner = run.start(selected, progress)  # hosts up (the sandbox), a Runner ready to run
    try:
        result = runner.run()
    finally:
        run.finish(runner)                  # the state for a later run, the sandbox down unless kept
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.atomic import write_atomic
from runbook.errors import EnvironmentLimit, UsageError
from runbook.load import load_graph
from runbook.model import Graph

from .planning.addresses import UnsafeAddressError, unsafe_addresses
from .planning.binding import sandbox_binding, sandbox_hosts
from .planning.environment import installed_pg_versions
from .planning.inventory import Inventory, default_inventory, load_inventory, secret_values
from .planning.model import Plan
from .planning.plan import build_plan
from .running.results import ALREADY, DONE_EARLIER, PASSED, Progress
from .running.session import Masker
from .running.steps import Runner, RunnerOptions
from .running.transport import LocalTransport, SandboxTransport, SshTransport, Transport
from .status import TargetKind

if TYPE_CHECKING:
    from .sandbox import Sandbox

COMPLETED_STEPS_FILE = "completed-steps.json"
"""In a kept sandbox's folder: the guide's sha256 and the steps its runs completed (a later run skips them)."""


@dataclass
class RunOptions:
    """How to run a guide (the options of ``runbook run`` that are not about reports)."""

    inventory: str | None = None
    """TOML inventory naming other targets; None: the embedded sandbox."""
    lang: str | None = None
    """Lexicon to read the guide with (None: detected)."""
    transcripts: str = "runbook-out"
    """Folder of the transcripts; each guide gets ``TRANSCRIPTS/GUIDE/HOST.log``."""
    fresh: bool = False
    """Tear down a sandbox left by an earlier run first."""
    keep: bool = False
    """Leave the sandbox up after the run."""
    speed: bool = True
    """The sandbox's speed settings (docs/sandbox.md)."""
    timeout: float = 120
    """Seconds a command may take."""
    settle: float = 20
    """Seconds a read-only check is retried until it matches."""
    keep_going_checks: bool = False
    """Go on after a differing check (to rewrite the expected output)."""
    site_config: str | None = None
    """``--site-config``: the _config.yml the guide's Liquid is rendered from (None: found above it)."""


def sandbox_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", path.name.removesuffix(".md"))[:60] or "guide"


class GuideRun:
    """One guide's run: read (unless its graph is given) and bound at creation, hosts up in
    :meth:`start`, down in :meth:`finish`."""

    def __init__(self, path: Path, options: RunOptions, graph: Graph | None = None) -> None:
        self.path = path
        self.options = options
        self.graph: Graph = (graph if graph is not None
                             else load_graph(path, options.lang, site_config=options.site_config))
        graph = self.graph
        inventory: Inventory = (load_inventory(options.inventory, graph) if options.inventory
                                else default_inventory(graph))
        self.inventory = inventory
        self.sandbox: Sandbox | None = None
        self.network_note: str | None = None
        """Why the sandbox falls back to loopback binding (no network namespace per host), if it does."""
        if inventory.kinds == {TargetKind.SANDBOX}:
            from .sandbox import Sandbox, SandboxError, SandboxHost, network_mode

            versions = installed_pg_versions()
            if not versions:
                raise EnvironmentLimit("PostgreSQL is not installed on this machine: run `bash scripts/setup`")
            pg_version = versions[-1]
            network, fallback = network_mode()
            if fallback:
                self.network_note = (
                    f"sandbox network: loopback, not a network namespace per host, because {fallback}; the "
                    "guide's addresses are bound to 127.0.0.x and every connection between hosts arrives from "
                    "127.0.0.1 (docs/sandbox.md)")
            binding = sandbox_binding(graph, pg_version, network)
            binding.update(inventory.bindings)
            hosts = [SandboxHost(h, a) for h, a in sandbox_hosts(graph, binding, network)]
            try:
                self.sandbox = Sandbox(sandbox_name(path), hosts, speed=options.speed, network=network)
            except SandboxError as exc:
                raise UsageError(f"{path}: {exc}") from exc
            self.plan: Plan = build_plan(graph, inventory, create_cluster=self.sandbox.create_cluster_command(
                pg_version), pg_version=pg_version, network=network)
            own = [h.address for h in hosts] if network == "netns" else None
            unsafe = unsafe_addresses(self.plan, own)
            if unsafe:
                where = "outside 127.0.0.0/8" + (" and the sandbox's hosts" if own else "")
                raise UnsafeAddressError(f"{path}: the sandbox refuses to run: {len(unsafe)} address(es) {where}",
                                         unsafe)
        elif TargetKind.SANDBOX in inventory.kinds:
            raise UsageError(f"{options.inventory}: mixing sandbox hosts with other targets is not supported")
        else:
            self.plan = build_plan(graph, inventory)
        self.secrets = secret_values(graph, inventory)
        self.mask = Masker(list(self.secrets.values()) + graph.secrets())
        self.target: TargetKind = (TargetKind.SANDBOX if self.sandbox is not None
                                   else TargetKind.LOCAL if inventory.kinds == {TargetKind.LOCAL} else TargetKind.SSH)
        self.transcripts = Path(options.transcripts) / path.name.removesuffix(".md")
        self.done: set[str] = set()
        """Steps completed by an earlier run on a kept sandbox (skipped as done-earlier)."""
        self.finished = False

    def start(self, selected: list[str] | None, progress: Progress | None = None) -> Runner:
        """Bring the hosts up and return the runner (call :meth:`finish` after it ran, or failed)."""
        transport = self._transport(selected)
        options = RunnerOptions(timeout=self.options.timeout, settle=self.options.settle, steps=selected,
                                done_earlier=self.done, keep_going_checks=self.options.keep_going_checks,
                                prestart=self.sandbox is not None and self.options.speed,
                                variants=max(2, os.cpu_count() or 1) if self.options.speed else 1)
        return Runner(self.plan, transport, options, secrets=self.secrets, transcripts=self.transcripts,
                      progress=progress)

    def _transport(self, selected: list[str] | None) -> Transport:
        if self.sandbox is not None:
            from .sandbox import SandboxError

            if os.geteuid() != 0:
                raise SandboxError("the embedded sandbox needs root (it creates Linux namespaces and mounts)")
            try:
                self.sandbox = self._sandbox_up()
            except SandboxError as exc:  # (its kind kept: a usage error stays one, exit 2)
                raise type(exc)(f"{self.path}: sandbox: {exc}") from exc
            state = self.sandbox.dir / COMPLETED_STEPS_FILE
            if self.sandbox.reused and state.exists():
                record = json.loads(state.read_text())
                if record.get("sha256") != self.graph.source.sha256:
                    raise UsageError(f"{self.path}: the kept sandbox holds the state of another version of this "
                                     "guide; run with --fresh to start over")
                if selected is None:
                    self.done = set(record.get("completed", []))
            return SandboxTransport(self.sandbox)
        if self.target == TargetKind.LOCAL:
            return LocalTransport()
        passwords: dict[str, str] = {}
        for h, t in self.inventory.targets.items():
            env = t.options.get("password_env")
            if env:
                if env not in os.environ:
                    raise UsageError(f"{self.options.inventory}: [hosts.{h}] password_env = {env!r}, but ${env} "
                                     "is not set")
                passwords[h] = os.environ[env]
        options = {h: [str(o) for o in t.options.get("ssh_options", [])] for h, t in self.inventory.targets.items()}
        self.mask = Masker(self.mask.values + list(passwords.values()))
        self.secrets = {**self.secrets, **{f"ssh-password:{h}": p for h, p in passwords.items()}}
        return SshTransport({h: (t.address or h, t.user, t.port) for h, t in self.inventory.targets.items()},
                            passwords=passwords, options=options)

    def _sandbox_up(self) -> Sandbox:
        """Bring the guide's sandbox up for this run; when a concurrent run uses it, a sandbox of its own
        (NAME-2, NAME-3 …).  Sandboxes left by runs that died (kill -9), or whose folder was deleted while
        they were up, are removed first, each said with why."""
        from .sandbox import cleanup_abandoned, up_unused

        sb0 = self.sandbox
        assert sb0 is not None
        for what in cleanup_abandoned(sb0.root).values():
            sys.stderr.write(f"runbook: {what}\n")
        sb = up_unused(sb0, fresh=self.options.fresh)
        if sb.cleaned:
            sys.stderr.write(f"runbook: {sb.cleaned}\n")
        return sb

    def finish(self, runner: Runner | None, interrupted: bool = False) -> None:
        """Record what was completed (for a later run on a kept sandbox) and tear the sandbox down
        (a discarded sandbox's servers are killed with the speed settings); with ``keep`` the sandbox
        is left up, owned by nobody (a later run may reuse it)."""
        if self.sandbox is None or self.sandbox.reused is None or self.finished:  # never came up, or down
            return
        self.finished = True
        if runner is not None:
            completed = set(self.done)
            completed.update(s.id for s in runner.last_results if s.status in (PASSED, ALREADY, DONE_EARLIER))
            try:
                write_atomic(self.sandbox.dir / COMPLETED_STEPS_FILE,
                             json.dumps({"sha256": self.graph.source.sha256, "completed": sorted(completed)}))
            except OSError:  # the sandbox was removed meanwhile (by `runbook sandbox down` elsewhere)
                pass
        if self.options.keep:
            self.sandbox.set_owner(None)
            if interrupted:
                sys.stderr.write(f"runbook: sandbox {self.sandbox.name} left up (--keep)\n")
            return
        self.sandbox.down(fast=self.options.speed)
        if interrupted:
            sys.stderr.write(f"runbook: servers stopped, sandbox {self.sandbox.name} torn down\n")
