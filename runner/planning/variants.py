"""Per-host variants of one block (``--slot standby1`` on standby1, ``--slot standby2`` on standby2): which
consecutive blocks do on each host what the others do on theirs, so that the runner may run them at once
(speed), and which blocks name another host (never run on several hosts at once)."""

from __future__ import annotations

import re

from runbook.kinds import ActionKind
from runbook.model import Action, Host

_HOST_MARK = "\x00host\x00"


def _variant_key(action: Action, hosts: dict[str, Host]) -> str | None:
    """The block's text with its own host's id, label and address replaced by a mark; None for an
    action that cannot be a per-host variant (not a shell/console block on one host, or one that
    opens a session)."""
    if action.kind not in (ActionKind.SHELL, ActionKind.CONSOLE) or len(action.targets) != 1:
        return None
    if any(c.opens_session for c in action.commands):
        return None
    if names_other_host(action, action.targets, hosts):
        return None  # it reaches another host (a primary both copy from): in the guide's order
    host = hosts.get(action.targets[0])
    names = {action.targets[0]} | ({host.label, host.address} if host is not None else set())
    text = action.code
    for name in sorted((n for n in names if n), key=len, reverse=True):
        text = re.sub(rf"(?<![\w.]){re.escape(name)}(?![\w.])", _HOST_MARK, text, flags=re.IGNORECASE)
    return text


def names_other_host(action: Action, own: list[str], hosts: dict[str, Host]) -> bool:
    """True when ``action``'s code names a host of the guide other than ``own`` (its id, label or
    address): it reaches a host it shares with others, so running it on several hosts at once is not
    what a person does (two ``pg_basebackup`` from one primary at once: one's checkpoint removes WAL the
    other still needs)."""
    text = action.code
    for hid, host in hosts.items():
        if hid in own:
            continue
        for name in (hid, host.label, host.address):
            if name and re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text, flags=re.IGNORECASE):
                return True
    return False


def variant_groups(actions: list[Action], hosts: dict[str, Host]) -> list[list[Action]]:
    """``actions`` in order, consecutive per-host variants of one block grouped: shell or console
    blocks on one host each, all different hosts, whose texts are the same once each block's own
    host (its id, label, address: ``--slot standby1``) is set aside.  Such blocks do on each host
    what the others do on theirs, and a block naming another host of the group (a standby copying
    from a standby) is never one of them.  Every other action is a group of its own."""
    groups: list[list[Action]] = []
    key_of: list[str | None] = []
    for action in actions:
        key = _variant_key(action, hosts)
        if (key is not None and groups and key_of[-1] == key
                and action.targets[0] not in {a.targets[0] for a in groups[-1]}):
            groups[-1].append(action)
        else:
            groups.append([action])
            key_of.append(key)
    return groups
