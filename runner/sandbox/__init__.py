"""The embedded sandbox: guide hosts on this machine, each a container of its own (docs/sandbox.md).

Each host runs in its own user namespace (root inside is an unprivileged id range outside), PID,
mount, IPC, UTS and cgroup namespaces and its network namespace, on a root file system that is an
overlay of the machine's (read-only below, a per-host writable layer above, thrown away by
``down``), with limits on processes and memory; teardown kills every process by its cgroups.  Built
on crun (an OCI runtime) with a generated config.

Modules: :mod:`.state` (records, errors), :mod:`.machine` (what the machine must provide; setup),
:mod:`.network`, :mod:`.cgroups` (limits, teardown), :mod:`.hosts` (file system, container),
:mod:`.speed` (PostgreSQL speed settings), :mod:`.status`, :mod:`.folders` (its folders on the
machine; those whose records were deleted), :mod:`.build` (bringing hosts up), :mod:`.lifecycle`
(teardown, cleanup), :mod:`.core` (the Sandbox).
"""

from __future__ import annotations

from .cgroups import MEMORY_LIMIT, PIDS_LIMIT
from .core import Sandbox
from .hosts import SHIMS
from .lifecycle import cleanup_abandoned, cleanup_all, up_unused
from .machine import missing, netns_unavailable, setup
from .network import NETWORK_ENV, NETWORKS, network_mode
from .speed import DATA_IN_MEMORY, DATA_TMPFS_SIZE, SPEED_CONF_NAME, SPEED_SETTINGS, SpeedSetting, speed_conf_text
from .state import (
    DEFAULT_ROOT,
    DEFAULT_USER,
    PG_PORT,
    AddressTaken,
    SandboxBusy,
    SandboxError,
    SandboxHost,
    SandboxUsageError,
    list_sandboxes,
    owner_token,
)

__all__ = [
    "DATA_IN_MEMORY",
    "DATA_TMPFS_SIZE",
    "DEFAULT_ROOT",
    "DEFAULT_USER",
    "MEMORY_LIMIT",
    "NETWORKS",
    "NETWORK_ENV",
    "PG_PORT",
    "PIDS_LIMIT",
    "SHIMS",
    "SPEED_CONF_NAME",
    "SPEED_SETTINGS",
    "AddressTaken",
    "Sandbox",
    "SandboxBusy",
    "SandboxError",
    "SandboxHost",
    "SandboxUsageError",
    "SpeedSetting",
    "cleanup_abandoned",
    "cleanup_all",
    "list_sandboxes",
    "missing",
    "netns_unavailable",
    "network_mode",
    "owner_token",
    "setup",
    "speed_conf_text",
    "up_unused",
]
