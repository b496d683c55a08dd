"""Prose stage: what each paragraph says, on the page and in the steps.

On the page, its role (overview, environment, heading, paragraph, list). In a step, a cue for the
blocks after it (a host label, a scope phrase, an annotation, an edit marker, a file path) or prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..kinds import ProseRole, Severity, TargetSource
from ..lexicon import Lexicon
from ..model import Prose, Span
from .frame import Frame
from .hosts import Environment
from .outline import Node, Outline
from .problems import Problems
from .shape import Page

CueKind = Literal["text", "before", "after", "path", "hosts"]

_ANNOTATION_RE = re.compile(r"^<!--\s*runbook:\s*hosts\s*=\s*(?P<hosts>[\w, -]+?)\s*-->$")


def page_prose(doc: Outline, frame: Frame, page: Page) -> list[Prose]:
    """The prose outside the steps, with its role: overview and environment items, environment
    introductions (wherever they are), headings, paragraphs and list items."""
    out: list[Prose] = []
    nodes = doc.nodes
    for section in page.sections:
        in_step = section.step is not None
        for i in range(section.start, section.end):
            node = nodes[i]
            inline = node.inline
            if inline is None:
                continue
            if frame.owns(node):
                if frame.lists[node.list] == "environment":  # type: ignore[index]
                    out.append(Prose(inline.text, node.span, ProseRole.ENVIRONMENT, inline.links))
                elif node.depth == 1:
                    first = inline.links[0] if inline.links else None
                    out.append(Prose(inline.text, node.span, ProseRole.OVERVIEW, [first] if first else []))
            elif i in frame.intros:
                out.append(Prose(inline.text, node.span, ProseRole.ENVIRONMENT, inline.links))
            elif not in_step:
                role = (ProseRole.HEADING if node.kind == "heading" else ProseRole.LIST if node.depth
                        else ProseRole.PARAGRAPH)
                out.append(Prose(inline.text, node.span, role, inline.links))
    return out


@dataclass(slots=True)
class Cue:
    """What a paragraph or HTML block of a step says about the blocks after it."""

    prose: Prose | None
    """The paragraph as kept in the step (None: a wrong annotation, reported and dropped)."""
    kind: CueKind = "text"
    """``before``/``after``: an edit marker; ``path``: a file path; ``hosts``: where the next blocks run."""
    hosts: list[str] = field(default_factory=list)
    """For ``hosts``: where the next blocks run; for ``text``: hosts it seems to name (a suggestion)."""
    source: TargetSource = TargetSource.PROSE
    """For ``hosts``: a ``label``, a scope phrase (``prose``) or an ``annotation``."""
    path: str | None = None


class Cues:
    """Reads a step's paragraphs with the environment's labels and the lexicon's phrases."""

    def __init__(self, env: Environment, lex: Lexicon, problems: Problems) -> None:
        self.env = env
        self.lex = lex
        self.problems = problems
        self._order = [h.id for h in env.hosts]
        self._compact = {re.sub(r"\s+", "", k): v for k, v in env.labels.items()}
        """Labels without their spaces: ``Standby 1`` in the prose names the environment's ``Standby1``."""
        self._scopes: list[tuple[re.Pattern[str], int]] = []
        if env.labels:
            alternation = "|".join(re.escape(k) for k in sorted(env.labels, key=len, reverse=True))
            flags = re.IGNORECASE if lex.case_insensitive else 0
            for pattern in lex.scope_patterns:
                count = 0

                def group(_: re.Match[str]) -> str:
                    nonlocal count
                    count += 1
                    return f"(?P<h{count}>{alternation})"

                self._scopes.append((re.compile(re.sub(r"\{host\}", group, pattern), flags), count))

    def _ordered(self, hosts: list[str] | set[str]) -> list[str]:
        return [h for h in self._order if h in hosts]

    def scope(self, text: str) -> list[str] | None:
        """Hosts named by a scope phrase at the start of ``text``'s first sentence."""
        if not self._scopes:
            return None
        subject = self.lex.norm(self.lex.sentence_end.split(text, maxsplit=1)[0])
        for regex, count in self._scopes:
            m = regex.search(subject)
            if m:
                hosts: list[str] = []
                for k in range(1, count + 1):
                    for h in self.env.labels.get(self.lex.norm(m.group(f"h{k}")), []):
                        if h not in hosts:
                            hosts.append(h)
                return self._ordered(hosts)
        return None

    def heading(self, node: Node) -> list[str] | None:
        """Hosts the step's heading names (``## [固有] プライマリーで…``), tag left out."""
        assert node.inline is not None
        return self.scope(self.lex.split_tag(node.inline.plain)[1])

    def paragraph(self, node: Node) -> Cue:
        """An edit marker, a file path, a host label, a scope phrase, or prose."""
        inline = node.inline
        assert inline is not None
        text, span, lex = inline.text, node.span, self.lex
        marker = lex.marker(text)
        if marker is not None:
            return Cue(Prose(text, span, ProseRole.MARKER), marker)
        pm = lex.path_re.match(inline.raw.strip())
        if pm:
            return Cue(Prose(text, span, ProseRole.PATH), "path", path=pm.group("path"))
        lm = lex.label_re.match(inline.plain.strip())
        if lm and not inline.links:
            label = lm.group("label")
            named = self.named(label)
            if named:
                return Cue(Prose(text, span, ProseRole.LABEL), "hosts", self._ordered(named), TargetSource.LABEL)
            if lex.host_role(label) is not None:
                known = ", ".join(h.label for h in self.env.hosts) or "none"
                self.problems.fail("unknown-host-label",
                                   f"label {label!r} names no host of the environment (hosts: {known})", span)
                return Cue(Prose(text, span, ProseRole.LABEL))
        names = None if inline.links or "`" in inline.raw else self.label(inline.plain, span)
        if names is not None and names.kind == "hosts":
            return Cue(Prose(text, span, ProseRole.LABEL), "hosts", names.hosts, TargetSource.LABEL)
        hint = names.hosts if names is not None else []
        hosts = self.scope(inline.plain)
        if hosts:
            return Cue(Prose(text, span, ProseRole.SCOPE, inline.links), "hosts", hosts, TargetSource.PROSE)
        return Cue(Prose(text, span, ProseRole.PARAGRAPH, inline.links), hosts=hint)

    def named(self, label: str) -> list[str] | None:
        """The hosts a label names, spaces aside (``Standby 1`` = ``Standby1``)."""
        key = self.lex.norm(label)
        return self.env.labels.get(key) or self._compact.get(re.sub(r"\s+", "", key))

    def label(self, text: str, span: Span) -> Cue | None:
        """Hosts of a paragraph made only of host names, as older guides write labels: without a colon,
        several joined (``パブリッシャーとサブスクライバー``, ``Standby1, standby2``).  A paragraph of
        names some of which are no host of the environment is reported, not guessed at."""
        lex = self.lex
        parts = lex.label_parts(text)
        if parts is None:
            return None
        hosts: set[str] = set()
        unknown: list[str] = []
        for part in parts:
            named = self.named(part)
            if named is None:
                unknown.append(part)
            else:
                hosts.update(named)
        if not unknown:
            return Cue(None, "hosts", self._ordered(hosts), TargetSource.LABEL)
        known = ", ".join(h.label for h in self.env.hosts) or "none"
        roles = [u for u in unknown if lex.host_role(u) is not None]
        if roles and (hosts or len(parts) == 1):
            self.problems.fail("unknown-host-label",
                               f"label {text!r} names no host of the environment as {roles[0]!r} (hosts: {known})",
                               span)
        elif hosts:
            self.problems.defect("unclear-label", Severity.WARNING,
                                 f"{text!r} names {', '.join(self._ordered(hosts))} but also {unknown[0]!r}, which is "
                                 f"no host of the environment (hosts: {known}); {self.suggestion(hosts)}", span)
            return Cue(None, hosts=self._ordered(hosts))
        return None

    def suggestion(self, hosts: set[str] | list[str] | None = None) -> str:
        """What settles which hosts a block runs on: a label paragraph or an annotation."""
        if not self.env.hosts:
            return "list the guide's hosts in its environment section, then name them before the block"
        chosen = self._ordered(set(hosts) if hosts else {h.id for h in self.env.hosts[:1]})
        by_id = {h.id: h for h in self.env.hosts}
        suffix = str(self.lex.text.get("label_suffix", ":"))
        joiner = str(self.lex.text.get("and", " and "))
        label = joiner.join(by_id[h].label for h in chosen if h in by_id) + suffix
        return (f"write a label paragraph such as '{label}' right before the block, or the annotation "
                f"'<!-- runbook: hosts={','.join(chosen)} -->'")

    def html(self, node: Node) -> Cue:
        """``<!-- runbook: hosts=standby1,standby2 -->`` overrides the inferred hosts (for guides whose
        prose is ambiguous); any other HTML is kept as prose."""
        content = node.code.strip()
        m = _ANNOTATION_RE.match(content)
        if not m:
            return Cue(Prose(content, node.span, ProseRole.HTML))
        names = [n.strip() for n in m.group("hosts").split(",") if n.strip()]
        known = {h.id for h in self.env.hosts} | {g.id for g in self.env.groups}
        unknown = [n for n in names if n not in known]
        if unknown:
            self.problems.fail("unknown-host-annotation",
                               f"annotation names no host of the environment: {', '.join(unknown)} "
                               f"(hosts and groups: {', '.join(sorted(known))})", node.span)
            return Cue(None)
        hosts: set[str] = set()
        for n in names:
            group = next((g for g in self.env.groups if g.id == n), None)
            hosts.update(group.members if group else [n])
        return Cue(Prose(content, node.span, ProseRole.ANNOTATION), "hosts", self._ordered(hosts),
                   TargetSource.ANNOTATION)
