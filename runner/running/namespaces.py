"""A host's shell runs nothing until it is shown to be inside the host's own namespaces (sandbox hosts):
the namespaces of the shell's own process (``/proc/$$/ns/*``, read in it as it starts) against the
host's, for :meth:`HostShell.start <runner.running.session.HostShell.start>`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import HostShell


def check_namespaces(sh: HostShell) -> None:
    """Refuse (and close the shell) unless it is inside the host's own namespaces."""
    from .session import SessionError, _tail

    assert sh.child is not None
    kinds = sorted(sh.namespaces)
    sh.child.sendline("readlink " + " ".join(f"/proc/$$/ns/{k}" for k in kinds))
    _, out = sh._expect_prompt(30, "checking its namespaces")
    got = dict(re.findall(r"(\w+):\[(\d+)\]", out))
    wrong = [f"{k}:[{got.get(k, '?')}] instead of {k}:[{sh.namespaces[k]}]" for k in kinds
             if got.get(k) != str(sh.namespaces[k])]
    if wrong:
        sh.close()
        raise SessionError(f"{sh.host}: refusing to run anything: the shell is not inside the host's own "
                           f"namespaces ({'; '.join(wrong)})", _tail(out))
    sh.transcript.write("note", inside_note(sh.namespaces))


def inside_note(namespaces: dict[str, int]) -> str:
    """The transcript's note that the shell is inside these namespaces."""
    return "inside the host's namespaces: " + ", ".join(f"{k}:[{namespaces[k]}]" for k in sorted(namespaces))
