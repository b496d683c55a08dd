"""Export a step graph: shell scripts, an Ansible playbook, the guide in another language, a drawing.

Every exporter is a pure function ``Graph (+ options) -> dict[file name, text]``: nothing here
reads or writes files (``runner/cli/export.py`` does, atomically).  What the exporters share:

* :func:`phases`: the guide's actions cut where the set of hosts changes.  Hosts run one phase
  after another, in the guide's order; inside a phase every host of the phase runs the same
  actions.  This is where one host waits for another (the standbys' ``pg_basebackup`` needs the
  primary configured first).
* :func:`secret_env_name` and :func:`mask_shell`: a secret is never written; it is read from an
  environment variable named after its variable (``replication_password`` ->
  ``RUNBOOK_SECRET_REPLICATION_PASSWORD``), also where it stands literally in a command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import UsageError
from ..kinds import ActionKind
from ..model import Action, Graph, Step, Variable
from ..secrets import Masker, secret_env_name

FORMATS = ("sh", "ansible", "markdown")
"""What ``runbook export --to`` writes."""

DIAGRAM_FORMATS = ("mermaid", "dot")
"""What ``runbook graph --format`` draws."""


@dataclass(slots=True)
class Phase:
    """A run of consecutive actions on the same hosts."""

    number: int
    """1-based, in the guide's order."""
    hosts: list[str]
    """Host ids, in the environment's order."""
    actions: list[tuple[Step, Action]] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        out: list[Step] = []
        for step, _ in self.actions:
            if not out or out[-1] is not step:
                out.append(step)
        return out


def phases(graph: Graph) -> list[Phase]:
    """The executable actions grouped into phases (a new phase wherever the host set changes)."""
    order = {h.id: n for n, h in enumerate(graph.hosts)}
    out: list[Phase] = []
    for step in graph.steps:
        for action in step.actions:
            if action.kind == ActionKind.NOTE or not action.targets:
                continue
            hosts = sorted(set(action.targets), key=lambda h: order.get(h, len(order)))
            if not out or out[-1].hosts != hosts:
                out.append(Phase(len(out) + 1, hosts))
            out[-1].actions.append((step, action))
    return out


@dataclass(slots=True)
class Secrets:
    """The graph's secret variables and the environment variables that hold their values."""

    variables: list[Variable]
    env: dict[str, str]
    """variable name -> environment variable name."""
    masker: Masker = field(default_factory=Masker)
    """Each secret's value -> ``${ENV}`` (runbook.secrets: the one masking function)."""

    @classmethod
    def of(cls, graph: Graph, env: Mapping[str, str] | None = None) -> Secrets:
        found = [v for v in graph.variables if v.secret and v.value]
        # Longest first, so a secret containing another is replaced whole.
        found.sort(key=lambda v: len(v.value), reverse=True)
        names = {v.name: (env or {}).get(v.name) or secret_env_name(v.name) for v in found}
        return cls(found, names, Masker({v.value: "${" + names[v.name] + "}" for v in found}))

    def var_env(self, name: str) -> str | None:
        return self.env.get(name)

    def used_in(self, text: str) -> list[str]:
        """Environment variables of the secrets that occur in ``text``."""
        return [self.env[v.name] for v in self.variables if v.value in text]

    def placeholders(self, text: str) -> str:
        """``text`` with every secret replaced by ``${ENV}`` (for texts a helper expands itself)."""
        return self.masker(text)


def mask_shell(text: str, secrets: Secrets) -> tuple[str, list[str]]:
    """A shell command with every secret replaced by a reference to its environment variable.

    The reference fits the quoting where the secret stands: ``"${ENV}"`` outside quotes, ``${ENV}``
    inside double quotes, ``'"${ENV}"'`` inside single quotes (close, expand, reopen).
    Returns the command and the environment variables it now needs.
    """
    used: list[str] = []
    if not secrets.variables:
        return text, used
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        m = secrets.masker.match_at(text, i)
        hit = next((v for v in secrets.variables if m is not None and v.value == m.group(0)), None)
        if hit is not None:
            env = secrets.env[hit.name]
            if env not in used:
                used.append(env)
            ref = "${" + env + "}"
            out.append(ref if quote == '"' else f"'\"{ref}\"'" if quote == "'" else f'"{ref}"')
            i += len(hit.value)
            continue
        ch = text[i]
        if ch == "\\" and quote != "'" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
            continue
        if ch in "'\"" and (quote is None or quote == ch):
            quote = None if quote == ch else ch
        out.append(ch)
        i += 1
    return "".join(out), used


def export(graph: Graph, to: str, **options: object) -> dict[str, str]:
    """Dispatch to the exporter ``to`` (one of :data:`FORMATS`)."""
    if to == "sh":
        from .sh import export_sh

        return export_sh(graph, **options)  # type: ignore[arg-type]
    if to == "ansible":
        from .ansible import export_ansible

        return export_ansible(graph, **options)  # type: ignore[arg-type]
    if to == "markdown":
        from .markdown import export_markdown

        return export_markdown(graph, **options)  # type: ignore[arg-type]
    raise UsageError(f"unknown export format {to!r} (expected one of: {', '.join(FORMATS)})")
