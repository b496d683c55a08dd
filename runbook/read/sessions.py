"""Sessions stage: the actions in order -> the psql sessions they type into.

``psql blog`` alone opens one on its hosts; SQL blocks use it until a shell block runs on the host;
SQL with no open session gets an inferred one (the environment's database, the guide's user).
"""

from __future__ import annotations

import shlex

from ..kinds import ActionKind
from ..model import Action, Session, Variable


def sessions(actions: list[Action], variables: list[Variable]) -> list[Session]:
    """Every session, in the order the actions open them; sets each action's session references."""
    found: list[Session] = []
    open_on: dict[str, str] = {}
    database = next((v for v in variables if v.name == "database"), None)
    count = 0
    for action in actions:
        if action.kind in (ActionKind.SHELL, ActionKind.CONSOLE):
            for host in action.targets:
                if host in open_on:
                    action.closes_sessions.append(open_on.pop(host))
        if action.kind in (ActionKind.SHELL, ActionKind.CONSOLE, ActionKind.FILE_EDIT, ActionKind.FILE_WRITE):
            for cmd in action.commands:
                opened = psql_session(cmd.text)
                if opened is None:
                    continue
                count += 1
                cmd.opens_session = f"s{count}"
                for host in action.targets:
                    sid = f"s{count}@{host}"
                    found.append(Session(sid, host, opened[0], opened[1], False, action.id, cmd.span))
                    open_on[host] = sid
        elif action.kind == ActionKind.SQL:
            for host in action.targets:
                current = open_on.get(host)
                if current is None:
                    count += 1
                    current = f"s{count}@{host}"
                    found.append(Session(current, host, database.value if database else None, "${USER}", True,
                                         None, action.span))
                    open_on[host] = current
                action.sessions[host] = current
    return found


def psql_session(command: str) -> tuple[str | None, str | None] | None:
    """``psql blog`` -> (database, user) when the command opens an interactive psql, else None."""
    if "psql" not in command or "\n" in command or any(ch in command for ch in "|<>;&"):
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    # sudo -u postgres -H psql ... : the session's user is the sudo target.
    user: str | None = None
    if words and words[0] == "sudo":
        j = 1
        while j < len(words) and words[j].startswith("-"):
            if words[j] in ("-u", "--user") and j + 1 < len(words):
                user = words[j + 1]
                j += 2
                continue
            j += 1
        words = words[j:]
    if not words or words[0] != "psql":
        return None
    database: str | None = None
    args = words[1:]
    k = 0
    positional: list[str] = []
    while k < len(args):
        a = args[k]
        if a in ("-c", "--command", "-f", "--file", "-l", "--list", "-V", "--version", "--help") or a.startswith(
            ("--command=", "--file=")
        ):
            return None
        if a in ("-d", "--dbname") and k + 1 < len(args):
            database = args[k + 1]
            k += 2
            continue
        if a.startswith("--dbname="):
            database = a.split("=", 1)[1]
        elif a in ("-U", "--username") and k + 1 < len(args):
            user = args[k + 1]
            k += 2
            continue
        elif a in ("-h", "--host", "-p", "--port") and k + 1 < len(args):
            k += 2
            continue
        elif not a.startswith("-"):
            positional.append(a)
        k += 1
    if database is None and positional:
        database = positional[0]
    if user is None and len(positional) > 1:
        user = positional[1]
    return database, user or "${USER}"
