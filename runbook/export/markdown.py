"""Rebuild a guide in its other language (``runbook export --to markdown --lang en|ja``).

The source Markdown is the template: code blocks, blank lines and everything the step graph does
not hold as prose are copied byte for byte; each prose node (its span in the graph) is replaced:

* from the lexicons: step tags, host and group labels, ``変更前：``/``Before:`` markers, the
  environment list (intro, host labels, field names), the summary heading, the step intro
  (``これは通常の手順です。``), and a scope sentence for a scope paragraph with no translation;
* from a gettext PO catalog (:class:`Catalog`, PGroonga's format: ``msgid`` English, ``msgstr``
  Japanese, one entry per Markdown block): every other paragraph, list item and heading;
* what has no translation is kept as it is and marked with the target lexicon's
  ``[text].untranslated`` comment.

Then the result is parsed with the target language's lexicon; where an action would land on
other hosts than in the source (a heading or paragraph left untranslated loses its scope phrase),
a host label paragraph is put before the block, until the two graphs agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import lexicon as lexicons
from ..errors import GuideError, UsageError
from ..kinds import ProseRole, Shape
from ..lexicon import Lexicon
from ..model import Action, Graph, Prose, Step
from ..read.edits import mention
from .blocks import translate_page
from .catalog import MARKER_RE as _MARKER_RE
from .catalog import Catalog

_HEADING_ID_RE = re.compile(r"\s*(\{#[^}]+\})\s*$")
_OVERVIEW_RE = re.compile(r"^\[(?P<tag>[^\]]+)\]\s*\[(?P<title>.*)\]\((?P<href>[^)]*)\)\s*$")
MAX_LABEL_PASSES = 50


# -- host labels and scope -----------------------------------------------------------------------


def _labels(graph: Graph, lex: Lexicon) -> dict[str, list[str]]:
    out = {lex.norm(h.label): [h.id] for h in graph.hosts}
    for g in graph.groups:
        out.setdefault(lex.norm(g.label), list(g.members))
    return out


def scope_hosts(text: str, graph: Graph, lex: Lexicon) -> list[str] | None:
    """Hosts a scope phrase in ``text`` names (the parser's reading, for prose nodes)."""
    labels = _labels(graph, lex)
    first = lex.sentence_end.split(text, maxsplit=1)[0]
    alternation = "|".join(re.escape(k) for k in sorted(labels, key=len, reverse=True))
    flags = re.IGNORECASE if lex.case_insensitive else 0
    for pattern in lex.scope_patterns:
        count = pattern.count("{host}")
        regex = pattern
        for k in range(1, count + 1):
            regex = regex.replace("{host}", f"(?P<h{k}>{alternation})", 1)
        m = re.search(regex, lex.norm(first), flags)
        if m:
            hosts = {h for k in range(1, count + 1) for h in labels.get(lex.norm(m.group(f"h{k}")), [])}
            return [h.id for h in graph.hosts if h.id in hosts]
    return None


def _role_word(lex: Lexicon, role: str, group: bool = False) -> str:
    if group:
        word = next((w for w, r in lex.groups.items() if r == role), None)
        if word is not None:
            return word
    return next((w for w, r in lex.roles.items() if r == role), role)


def host_label(graph: Graph, host_id: str, lex: Lexicon) -> str:
    h = graph.host(host_id)
    return _role_word(lex, h.role) + (str(h.number) if h.number is not None else "")


def hosts_label(graph: Graph, hosts: list[str], lex: Lexicon) -> list[str]:
    """Labels naming ``hosts``: a group's label for all of its members, else each host's."""
    names: list[str] = []
    done: set[str] = set()
    for h in graph.hosts:
        if h.id not in hosts or h.id in done:
            continue
        group = next((g for g in graph.groups if h.id in g.members and len(g.members) > 1
                      and set(g.members) <= set(hosts)), None)
        if group is not None:
            role = graph.host(group.members[0]).role
            names.append(_role_word(lex, role, group=True))
            done.update(group.members)
        else:
            names.append(host_label(graph, h.id, lex))
            done.add(h.id)
    return names


def scope_sentence(graph: Graph, hosts: list[str], lex: Lexicon) -> str:
    names = hosts_label(graph, hosts, lex)
    if lex.case_insensitive:
        names = [n.lower() for n in names]
    text = lex.text
    template = text.get("scope_both", text["scope_all"]) if len(names) == 2 else text["scope_all"]
    return str(template).format(hosts=str(text["and"]).join(names))


# -- the rebuild ---------------------------------------------------------------------------------


@dataclass
class _Rebuild:
    graph: Graph
    lines: list[str]
    src: Lexicon
    dst: Lexicon
    catalog: Catalog
    replace: dict[int, tuple[int, list[str]]] = field(default_factory=dict)
    """first line (0-based) -> (end line exclusive, new lines)."""
    labels_before: dict[int, list[str]] = field(default_factory=dict)
    untranslated: int = 0
    origin: list[int | None] = field(default_factory=list)
    """Output line (0-based) -> source line (1-based): of lines copied as they are, and of a replaced
    prose block its first line (None for inserted labels)."""

    @property
    def mark(self) -> str:
        return " " + str(self.dst.text["untranslated"])

    def raw(self, line: int, end_line: int) -> str:
        return "\n".join(self.lines[line - 1 : end_line])

    def put(self, line: int, end_line: int, text: str) -> None:
        self.replace[line - 1] = (end_line, text.split("\n"))

    def prefix(self, line: int) -> str:
        m = _MARKER_RE.match(self.lines[line - 1])
        return (m.group("prefix") or "") if m else ""

    def tr(self, raw: str) -> str | None:
        return self.catalog.translate(raw, self.dst.language)

    def keep(self, body: str) -> str:
        if body and not re.search(r"\w", re.sub(r"`[^`]*`", "", body)):
            return body  # only code: nothing to translate
        self.untranslated += 1
        return body + self.mark

    def run(self) -> str:
        self._front_matter()
        for p in self.graph.prose:
            self._prose(p, None)
        for step in self.graph.steps:
            self._step_heading(step)
            for p in step.prose:
                self._prose(p, step)
        return self.render()

    def render(self) -> str:
        out: list[str] = []
        self.origin = []
        i = 0
        while i < len(self.lines):
            if i + 1 in self.labels_before:
                for label in self.labels_before[i + 1]:
                    out += [label, ""]
                    self.origin += [None, None]
            if i in self.replace:
                end, new = self.replace[i]
                out += new
                self.origin += [i + 1] * len(new)  # a prose block: an edit the prose describes starts there
                i = end
                continue
            out.append(self.lines[i])
            self.origin.append(i + 1)
            i += 1
        return "\n".join(out)

    # -- pieces ------------------------------------------------------------------------------
    def _front_matter(self) -> None:
        if not self.lines or self.lines[0].strip() != "---":
            return
        end = next((n for n in range(1, len(self.lines)) if self.lines[n].strip() == "---"), None)
        if end is None:
            return
        block = "\n".join(self.lines[: end + 1])
        found = self.catalog.translate(block, self.dst.language)
        if found is not None:
            self.replace[0] = (end + 1, found.split("\n"))
            return
        for n in range(1, end):
            m = re.match(r"^title:\s*(.+)$", self.lines[n])
            title = self.tr("# " + m.group(1).strip().strip("'\"")) if m else None
            if m and title is not None:
                self.replace[n] = (n + 1, [f"title: {title}"])

    def _heading(self, p: Prose) -> None:
        raw = self.raw(p.span.line, p.span.end_line)
        level = raw[: len(raw) - len(raw.lstrip("#"))]
        if self.src.norm(p.text) in {self.src.norm(h) for h in self.src.overview_headings}:
            self.put(p.span.line, p.span.end_line, f"{level} {self.dst.text['overview_heading']}")
            return
        found = self.tr(raw)
        self.put(p.span.line, p.span.end_line, f"{level} " + (found if found is not None else self.keep(
            _MARKER_RE.match(raw).group("body"))))  # type: ignore[union-attr]

    def _step_heading(self, step: Step) -> None:
        raw = self.raw(step.span.line, step.span.end_line)
        level = raw[: len(raw) - len(raw.lstrip("#"))]
        found = self.tr(raw)
        if found is not None:
            self.put(step.span.line, step.span.end_line, f"{level} {found}")
            return
        m = _HEADING_ID_RE.search(raw)
        anchor = f" {m.group(1)}" if m else ""
        tag = f"[{self.dst.tag_word(step.tag)}] " if step.tag else ""
        self.put(step.span.line, step.span.end_line, f"{level} {tag}{self.keep(step.title)}{anchor}")

    def _prose(self, p: Prose, step: Step | None) -> None:
        raw = self.raw(p.span.line, p.span.end_line)
        prefix = self.prefix(p.span.line)
        body = _MARKER_RE.match(raw).group("body")  # type: ignore[union-attr]
        if p.role in (ProseRole.HTML, ProseRole.PATH):
            return
        if p.role == ProseRole.HEADING:
            self._heading(p)
            return
        new = self._translate(p, step, raw, body)
        if new is not None:
            self.put(p.span.line, p.span.end_line, prefix + new)

    def _translate(self, p: Prose, step: Step | None, raw: str, body: str) -> str | None:
        src, dst = self.src, self.dst
        if p.role == ProseRole.LABEL:
            labels = _labels(self.graph, src)
            parts = src.label_parts(p.text) or []
            named = [labels.get(src.norm(part)) for part in parts]
            if named and all(named):
                hosts = [h for names in named for h in names or []]
                colon = str(dst.text["label_suffix"]) if re.search(r"[：:]\s*$", p.text) or len(parts) == 1 else ""
                return str(dst.text["and"]).join(hosts_label(self.graph, hosts, dst)) + colon
        if p.role == ProseRole.MARKER:
            which = dst.before[0] if src.is_marker(p.text, "before") else dst.after[0]
            return which + str(dst.text["label_suffix"])
        if p.role == ProseRole.ENVIRONMENT:
            return self._environment(p, raw, body)
        if p.role == ProseRole.OVERVIEW:
            return self._overview(body)
        found = self.tr(raw)
        if found is not None:
            return found
        if step is not None and step.tag and p.text == src.text.get("step_intro", {}).get(step.tag):
            return str(dst.text["step_intro"][step.tag])
        if p.role in (ProseRole.SCOPE, ProseRole.SETTINGS, ProseRole.APPEND):
            scoped = scope_hosts(p.text.replace("`", ""), self.graph, src)
            kept = self.keep(body)
            if p.role == ProseRole.APPEND:  # the lines to add follow a sentence that says so
                said = mention(raw)
                file = (said.name or said.written) if said else ""
                kept += "\n\n" + str(dst.text["append_intro"]).format(file=file)
            if scoped:
                return scope_sentence(self.graph, scoped, dst) + "\n\n" + kept
            return kept
        return self.keep(body)

    def _environment(self, p: Prose, raw: str, body: str) -> str:
        src, dst = self.src, self.dst
        if any(p.text.startswith(x) for x in src.environment_intro) and not self.prefix(p.span.line):
            return str(dst.text["environment_intro"])
        label = re.sub(r"\s*[：:]\s*$", "", p.text)
        hosts = _labels(self.graph, src).get(src.norm(label))
        if hosts and len(hosts) == 1:  # a host entry; older guides write some without a colon
            colon = str(dst.text["label_suffix"]) if re.search(r"[：:]\s*$", p.text) else ""
            return host_label(self.graph, hosts[0], dst) + colon
        m = re.match(r"^(?P<key>[^:：]+?)\s*[：:]\s*(?P<value>.*)$", body, re.DOTALL)
        if m:
            field_name = next((f for w, f in src.fields.items() if src.norm(w) == src.norm(m.group("key").strip())),
                              None)
            word = next((w for w, f in dst.fields.items() if f == field_name), None)
            if word is not None:
                return word + str(dst.text["field_separator"]) + m.group("value")
        found = self.tr(raw)
        return found if found is not None else self.keep(body)

    def _overview(self, body: str) -> str:
        found = self.tr(body)
        if found is not None:
            return found
        m = _OVERVIEW_RE.match(body.strip())
        if not m:
            return self.keep(body)
        tag = self.src.tag_for(m.group("tag"))
        word = self.dst.tag_word(tag) if tag else m.group("tag")
        href = m.group("href")
        title = None
        step = next((s for s in self.graph.steps if f"#{s.id}" == href), None)
        if step is not None:
            heading = self.tr(self.raw(step.span.line, step.span.end_line))
            if heading is not None:
                title = _TAG_RE.sub("", _HEADING_ID_RE.sub("", heading)).strip()
        if title is None:
            return f"[{word}] [{m.group('title')}]({href}){self.keep('')}"
        return f"[{word}] [{title}]({href})"


_TAG_RE = re.compile(r"^\[[^\]]+\]\s*")


def _anchor_line(action: Action) -> int:
    return action.path_span.line if action.path_span is not None else action.span.line


def rebuild(graph: Graph, source_text: str, target: str, catalog: Catalog | None = None) -> tuple[str, int]:
    """The guide in ``target`` language and how many blocks were left untranslated."""
    from ..parse import parse_text

    if graph.source.lang == target:
        raise UsageError(f"{graph.source.file} is already in {target!r}: give the other language with --lang")
    job = _Rebuild(graph, source_text.split("\n"), lexicons.load(graph.source.lang), lexicons.load(target),
                   catalog or Catalog())
    text = job.run()
    want = {a.id: a for a in graph.actions()}
    for _ in range(MAX_LABEL_PASSES):
        try:
            out = parse_text(text, graph.source.file, target)
        except GuideError as exc:
            wrong = _targetless(exc, want, job.origin)
            if not wrong:
                raise
        else:
            wrong = [a for a in out.actions() if a.id in want and a.targets != want[a.id].targets]
            if not wrong:
                return text, job.untranslated
        first = min(wrong, key=lambda a: a.span.line)
        source_action = want[first.id]
        line = _anchor_line(source_action)
        names = hosts_label(graph, source_action.targets, job.dst)
        if len(names) == 1:
            label = names[0] + str(job.dst.text["label_suffix"])
        else:  # no label names these hosts together: a scope sentence does
            label = scope_sentence(graph, source_action.targets, job.dst)
        if label in job.labels_before.get(line, []):
            raise GuideError(f"{graph.source.file}:{source_action.span.line}: cannot place {source_action.id} on "
                             f"the same hosts in {target!r}")
        job.labels_before.setdefault(line, []).append(label)
        text = job.render()
    raise GuideError(f"{graph.source.file}: cannot place the blocks on the same hosts in {target!r}")


def _targetless(exc: GuideError, want: dict[str, Action], origin: list[int | None]) -> list[Action]:
    """Actions the target parser could not place (``no-target``), as source actions."""
    if not exc.findings or any(f.rule != "no-target" for f in exc.findings):
        return []
    lines = {origin[f.span.line - 1] for f in exc.findings if f.span.line - 1 < len(origin)}
    return [a for a in want.values() if a.span.line in lines]


def export_markdown(
    graph: Graph | None,
    *,
    lang: str,
    source_text: str,
    catalog: Catalog | None = None,
    file: str | None = None,
    site_config: dict[str, object] | None = None,
) -> dict[str, str]:
    """``GUIDE.LANG.md``: the guide in ``lang`` (see the module's docstring).  A page that is not a
    tagged guide (a site's page: a reference page, an index page with nothing to run, one that does
    not read as a guide at all: ``graph`` None) is translated paragraph by paragraph from its catalog,
    as the site builds its translations (:func:`runbook.export.blocks.translate_page`); such a page is
    never refused for its language (a Japanese page whose text is still English translates too)."""
    name = file or (graph.source.file if graph is not None else "page.md")
    rebuilt = graph is not None and graph.steps and (graph.shape == Shape.GUIDE or catalog is None)
    if graph is None or not rebuilt:
        source_lang = graph.source.lang if graph is not None and graph.source.lang != lang else None
        text = translate_page(source_text, lang, catalog or Catalog(), source_lang, site_config).text
    else:
        assert graph is not None
        text, _ = rebuild(graph, source_text, lang, catalog)
    stem = re.sub(r"(\.(ja|en))?\.md$", "", name.rsplit("/", 1)[-1])
    return {f"{stem}.{lang}.md": text}
