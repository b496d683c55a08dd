"""Launch a guide's run and land it: graph, inventory, plan, hosts (the sandbox up), runner, tear-down.

Both ``runbook run`` and the pytest plugin go through :class:`GuideRun`::

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runbook.errors import RunbookError, UsageError
from runbook.load import load_graph
from runbook.model import Graph

from .execute import (
    ALREADY,
    DONE_EARLIER,
    PASSED,
    LocalTransport,
    Progress,
    Runner,
    SandboxTransport,
    SshTransport,
    Transport,
)
from .inventory import Inventory, default_inventory, load_inventory, secret_values
from .plan import Plan, UnsafeAddressError, build_plan, installed_pg_versions, sandbox_binding, unsafe_addresses
from .session import Masker

if TYPE_CHECKING:
    from .sandbox import Sandbox

STATE_FILE = "runbook-run.json"


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
        if inventory.kinds == {"sandbox"}:
            from .sandbox import Sandbox, SandboxError, SandboxHost

            versions = installed_pg_versions()
            if not versions:
                raise RunbookError("PostgreSQL is not installed on this machine: run `bash scripts/setup`")
            pg_version = versions[-1]
            binding = sandbox_binding(graph, pg_version)
            binding.update(inventory.bindings)
            hosts = [SandboxHost(h.id, binding.get(f"{h.id}.address", "127.0.0.100")) for h in graph.hosts]
            try:
                self.sandbox = Sandbox(sandbox_name(path), hosts, speed=options.speed)
            except SandboxError as exc:
                raise UsageError(f"{path}: {exc}") from exc
            self.plan: Plan = build_plan(graph, inventory, create_cluster=self.sandbox.create_cluster_command(
                pg_version), pg_version=pg_version)
            unsafe = unsafe_addresses(self.plan)
            if unsafe:
                raise UnsafeAddressError(f"{path}: the sandbox refuses to run: {len(unsafe)} address(es) outside "
                                         "127.0.0.0/8", unsafe)
        elif "sandbox" in inventory.kinds:
            raise UsageError(f"{options.inventory}: mixing sandbox hosts with other targets is not supported")
        else:
            self.plan = build_plan(graph, inventory)
        self.secrets = secret_values(graph, inventory)
        self.mask = Masker(list(self.secrets.values()) + graph.secrets())
        self.target = "sandbox" if self.sandbox is not None else "local" if inventory.kinds == {"local"} else "ssh"
        self.transcripts = Path(options.transcripts) / path.name.removesuffix(".md")
        self.done: set[str] = set()
        """Steps completed by an earlier run on a kept sandbox (skipped as done-earlier)."""

    def start(self, selected: list[str] | None, progress: Progress | None = None) -> Runner:
        """Bring the hosts up and return the runner (call :meth:`finish` after it ran, or failed)."""
        transport = self._transport(selected)
        return Runner(self.plan, transport, secrets=self.secrets, transcripts=self.transcripts, progress=progress,
                      timeout=self.options.timeout, settle=self.options.settle, steps=selected,
                      done_earlier=self.done, keep_going_checks=self.options.keep_going_checks)

    def _transport(self, selected: list[str] | None) -> Transport:
        if self.sandbox is not None:
            from .sandbox import SandboxError

            if os.geteuid() != 0:
                raise RunbookError("the embedded sandbox needs root (it creates Linux namespaces and mounts)")
            try:
                if self.options.fresh and self.sandbox.is_up():
                    self.sandbox.down()
                was_up = self.sandbox.is_up()
                self.sandbox.up()
            except SandboxError as exc:
                raise RunbookError(f"{self.path}: sandbox: {exc}") from exc
            state = self.sandbox.dir / STATE_FILE
            if was_up and state.exists():
                record = json.loads(state.read_text())
                if record.get("sha256") != self.graph.source.sha256:
                    raise UsageError(f"{self.path}: the kept sandbox holds the state of another version of this "
                                     "guide; run with --fresh to start over")
                if selected is None:
                    self.done = set(record.get("completed", []))
            return SandboxTransport(self.sandbox)
        if self.target == "local":
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

    def finish(self, runner: Runner | None) -> None:
        """Record what was completed (for a later run on a kept sandbox) and tear the sandbox down."""
        if self.sandbox is None:
            return
        if runner is not None:
            completed = set(self.done)
            completed.update(s.id for s in runner.last_results if s.status in (PASSED, ALREADY, DONE_EARLIER))
            try:
                (self.sandbox.dir / STATE_FILE).write_text(json.dumps({"sha256": self.graph.source.sha256,
                                                                       "completed": sorted(completed)}))
            except OSError:  # the sandbox was removed meanwhile (by `runbook sandbox down` elsewhere)
                pass
        if not self.options.keep:
            self.sandbox.down()
