"""The hosts' networks: one network namespace per host on a bridge of the sandbox's own, or the
loopback fallback (docs/sandbox.md, "The network")."""

from __future__ import annotations

import ipaddress
import os
import shlex
import socket
from pathlib import Path

from .machine import netns_unavailable
from .mounts import cmd, is_mountpoint, is_nsfs_mount, umount
from .state import SandboxError

BRIDGE_NS = "_bridge"  # ns/_bridge.net: the sandbox's own namespace holding the bridge (not a host name)
NETWORKS = ("netns", "loopback")
NETWORK_ENV = "RUNBOOK_SANDBOX_NETWORK"
"""Environment variable forcing the network kind (``netns`` or ``loopback``) of `runbook run`."""


def network_mode() -> tuple[str, str | None]:
    """The network kind a run uses: ``netns`` where the machine can create network namespaces,
    else ``loopback``; and a note saying why when it falls back.  ``$RUNBOOK_SANDBOX_NETWORK``
    (``netns`` or ``loopback``) chooses explicitly."""
    forced = os.environ.get(NETWORK_ENV, "").strip()
    if forced == "loopback":
        return "loopback", f"${NETWORK_ENV}=loopback"
    why = netns_unavailable()
    if why is None:
        return "netns", None
    if forced == "netns":
        raise SandboxError(f"${NETWORK_ENV}=netns, but this machine cannot create network namespaces: {why}")
    return "loopback", f"this machine cannot create network namespaces ({why})"


def validate_address(address: str, host: str, network: str = "loopback") -> None:
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError as e:
        raise SandboxError(f"host {host}: address {address!r} is not an IPv4 address") from e
    if network == "netns":
        if not ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified \
                or ip.is_reserved or address.endswith((".0", ".255")):
            raise SandboxError(
                f"host {host}: address {address} cannot be a sandbox host's address: the sandbox gives "
                "hosts private addresses only (10/8, 172.16/12, 192.168/16, ...), inside its own network "
                "namespaces"
            )
        return
    if ip not in ipaddress.IPv4Network("127.0.0.0/8"):
        raise SandboxError(
            f"host {host}: address {address} is outside 127.0.0.0/8; the sandbox only uses loopback "
            "addresses (bind the guide's addresses to 127.0.0.x)"
        )
    if address in ("127.0.0.0", "127.0.0.1", "127.255.255.255"):
        raise SandboxError(
            f"host {host}: address {address} is reserved (127.0.0.1 is the machine's own localhost); "
            "use 127.0.0.30, 127.0.0.31, ..."
        )


def port_in_use(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        try:
            s.connect((address, port))
        except OSError:
            return False
        return True


def hosts_file_text(sandbox: str, network: str, me: tuple[str, str], hosts: list[tuple[str, str]]) -> str:
    """/etc/hosts of host ``me`` (name, address) among ``hosts``."""
    name, address = me
    lines = [f"# /etc/hosts of sandbox host {name} (runbook sandbox {sandbox}, network {network})"]
    if network == "netns":
        lines.append("127.0.0.1\tlocalhost")
        if Path("/proc/sys/net/ipv6").is_dir():
            lines.append("::1\tlocalhost ip6-localhost ip6-loopback")
        lines.append(f"{address}\t{name}")
    else:
        lines.append(f"{address}\tlocalhost {name}")
    for n, a in hosts:
        if n != name:
            lines.append(f"{a}\t{n}")
    return "\n".join(lines) + "\n"


def ensure_ns_dir(ns_dir: Path) -> None:
    """``unshare --net=FILE`` needs FILE on a private mount (no propagation loops): bind the folder
    onto itself and make it private."""
    ns_dir.mkdir(exist_ok=True)
    if not is_mountpoint(ns_dir):
        cmd(["mount", "--bind", str(ns_dir), str(ns_dir)])
    cmd(["mount", "--make-private", str(ns_dir)])


def ensure_bridge(bridge_file: Path, sandbox: str) -> None:
    """The sandbox's own network namespace holding the bridge ``br0`` the hosts are linked to."""
    if is_nsfs_mount(bridge_file):
        return
    bridge_file.touch()
    cp = cmd(["unshare", f"--net={bridge_file}", "--", "sh", "-c",
              "ip link set lo up && ip link add br0 type bridge && ip link set br0 up"], timeout=30, check=False)
    if cp.returncode != 0:
        if is_mountpoint(bridge_file):
            umount(str(bridge_file))
        raise SandboxError(f"sandbox {sandbox}: creating the bridge's network namespace failed: "
                           f"{(cp.stderr or cp.stdout).strip()}")


def create_host_netns(net_file: Path, bridge_file: Path, address: str, others: list[str], index: int,
                      host: str) -> None:
    """The host's network namespace (a file the container joins): lo up, eth0 with the host's address
    (/32), a veth to the bridge's namespace, a route to each other host (no default route: nothing
    else is reachable), every port bindable by the host's root (as root on a machine)."""
    q = shlex.quote
    if is_mountpoint(net_file):
        umount(str(net_file))
    net_file.touch()
    lines = [
        "set -e",
        "ip link set lo up",
        f"ip link add eth0 type veth peer name v{index} netns {q(str(bridge_file))}",
        f"ip addr add {address}/32 dev eth0",
        "ip link set eth0 up",
        *(f"ip route add {o}/32 dev eth0" for o in others),
        "echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start",
    ]
    cp = cmd(["unshare", f"--net={net_file}", "--", "/bin/sh", "-c", "\n".join(lines)], timeout=30, check=False)
    if cp.returncode != 0:
        if is_mountpoint(net_file):
            umount(str(net_file))
        raise SandboxError(f"host {host}: creating its network namespace failed: {(cp.stderr or cp.stdout).strip()}")


def link_to_bridge(bridge_file: Path, indexes: list[int], sandbox: str) -> None:
    if not indexes:
        return
    script = "".join(f"ip link set v{i} master br0 && ip link set v{i} up && " for i in indexes)
    cp = cmd(["nsenter", f"--net={bridge_file}", "--", "sh", "-c", script + "true"], timeout=30, check=False)
    if cp.returncode != 0:
        raise SandboxError(f"sandbox {sandbox}: linking the hosts to the bridge failed: "
                           f"{(cp.stderr or cp.stdout).strip()}")
