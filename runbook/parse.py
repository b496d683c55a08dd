"""Markdown guide -> step graph.

Works on markdown-it-py's token stream and its line map.  What prose means (tags, host labels,
scope phrases, edit markers, the environment list) comes from the language's lexicon, so this
module knows Markdown structure and shell/SQL/console syntax, never a particular language.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from . import lexicon as lexicons
from .errors import GuideError, UsageError
from .expected import parse_expected
from .lexicon import Lexicon
from .model import (
    Action,
    Answer,
    Block,
    Command,
    Finding,
    Graph,
    Group,
    Host,
    Prose,
    Session,
    Source,
    Span,
    Statement,
    Step,
    Turn,
    Variable,
)

NON_EXECUTABLE = {"mermaid", "text", "plantuml", "dot", "graphviz", "json", "yaml", "output", "diff"}
SHELL_LANGS = {"bash", "sh", "shell", "zsh"}
CONSOLE_LANGS = {"console", "shell-session", "terminal"}
SQL_LANGS = {"sql", "psql", "postgresql"}

_HEADING_ID_RE = re.compile(r"\s*\{#(?P<id>[A-Za-z0-9_][A-Za-z0-9_:.\-]*)\}\s*$")
_TAG_PREFIX_RE = re.compile(r"^\[(?P<tag>[^\]]+)\]\s*")
_PROMPT_RE = re.compile(r"^(?P<prompt>.*?:)\s*\((?P<answer>.*)\)\s*$")
_ANNOTATION_RE = re.compile(r"^<!--\s*runbook:\s*hosts\s*=\s*(?P<hosts>[\w, -]+?)\s*-->$")
_CIDR_RE = re.compile(r"(?<![\d.])(?P<net>\d{1,3}(?:\.\d{1,3}){3}/\d{1,2})(?![\d])")


# -- markdown-it plugin: kramdown-style heading ids "## Title {#id}" ----------------------------


def heading_id_plugin(md: MarkdownIt) -> None:
    """Move a trailing ``{#id}`` of a heading into the heading's ``id`` attribute."""

    def rule(state: StateCore) -> None:
        tokens = state.tokens
        for i, tok in enumerate(tokens):
            if tok.type == "heading_open" and i + 1 < len(tokens) and tokens[i + 1].type == "inline":
                inline = tokens[i + 1]
                m = _HEADING_ID_RE.search(inline.content)
                if m:
                    tok.attrSet("id", m.group("id"))
                    inline.content = inline.content[: m.start()]

    md.core.ruler.before("inline", "heading_id", rule)


def make_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").use(front_matter_plugin).use(heading_id_plugin)


_MD = make_parser()


# -- input checks ------------------------------------------------------------------------------


def read_guide(path: Path, display: str | None = None) -> str:
    """The guide's text; a clear :class:`GuideError` for what is not a readable guide."""
    name = display or str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"{name}: no such file") from exc
    except OSError as exc:
        raise GuideError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    return decode_guide(data, name)


def decode_guide(data: bytes, name: str) -> str:
    def fail(line: int, rule: str, message: str) -> GuideError:
        return GuideError(message, [Finding(rule, "error", message, Span(name, line, line))])

    if not data.strip():
        raise fail(1, "empty-file", "the file is empty: a guide needs a title, an overview and steps")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise fail(line, "binary-file", "this is a binary file (it contains NUL bytes), not a Markdown guide")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(
            line, "not-utf8", f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded"
        ) from exc
    return text.removeprefix("\ufeff")


# -- the parser --------------------------------------------------------------------------------


@dataclass
class _Inline:
    raw: str
    """Markdown source of the inline (backticks kept)."""
    text: str
    """Plain text with inline code kept in backticks, links reduced to their text."""
    plain: str
    """Plain text without backticks."""
    links: list[str]


def _inline(tok: Token) -> _Inline:
    text: list[str] = []
    plain: list[str] = []
    links: list[str] = []
    for child in tok.children or []:
        if child.type == "text":
            text.append(child.content)
            plain.append(child.content)
        elif child.type == "code_inline":
            text.append(f"`{child.content}`")
            plain.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            text.append(" ")
            plain.append(" ")
        elif child.type == "link_open":
            href = child.attrGet("href")
            if isinstance(href, str):
                links.append(href)
    return _Inline(tok.content, "".join(text).strip(), "".join(plain).strip(), links)


@dataclass
class _StepState:
    step: Step
    scope: list[str] | None = None
    scope_source: str = "heading"
    path: str | None = None
    path_span: Span | None = None
    edit: str | None = None  # None, "expect-before", "have-before", "expect-after"
    marker_span: Span | None = None
    before: str | None = None
    before_span: Span | None = None
    before_block: Block | None = None


@dataclass
class _Parser:
    text: str
    file: str
    lex: Lexicon
    lines: list[str] = field(default_factory=list)
    fatal: list[Finding] = field(default_factory=list)
    defects: list[Finding] = field(default_factory=list)
    hosts: list[Host] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    notes: list[Action] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    prose: list[Prose] = field(default_factory=list)
    overview: list[tuple[int, str | None, str, str, Span]] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)
    open_sessions: dict[str, str] = field(default_factory=dict)
    session_count: int = 0
    title: str = ""

    # -- helpers ----------------------------------------------------------------------------
    def span(self, tok: Token) -> Span:
        m = tok.map or [0, 1]
        return Span(self.file, m[0] + 1, max(m[0] + 1, m[1]))

    def line_span(self, line: int, end: int | None = None) -> Span:
        return Span(self.file, line, end if end is not None else line)

    def fail(self, rule: str, message: str, span: Span) -> None:
        self.fatal.append(Finding(rule, "error", message, span))

    def defect(self, rule: str, severity: str, message: str, span: Span) -> None:
        self.defects.append(Finding(rule, severity, message, span))  # type: ignore[arg-type]

    # -- entry ------------------------------------------------------------------------------
    def run(self) -> Graph:
        self.lines = self.text.split("\n")
        tokens = _MD.parse(self.text)
        self._check_fences(tokens)
        self._walk(tokens)
        if not self.steps:
            self.fail(
                "no-steps",
                "no steps found: a step is a level-2 heading with a tag such as "
                f"'## [{next(iter(self.lex.tags), '…')}] title {{#id}}' or one the overview links to",
                self.line_span(1),
            )
        self._check_overview()
        self._collect_code_variables()
        self._bind_answers()
        if self.fatal:
            raise GuideError(
                f"{self.file}: {len(self.fatal)} problem(s) stop this guide from being read",
                sorted(self.fatal, key=lambda f: f.span.line),
            )
        digest = hashlib.sha256(self.text.encode("utf-8")).hexdigest()
        return Graph(
            source=Source(self.file, self.lex.language, self.title, digest, len(self.lines)),
            hosts=self.hosts,
            groups=self.groups,
            variables=self.variables,
            steps=self.steps,
            sessions=self.sessions,
            notes=self.notes,
            blocks=self.blocks,
            prose=self.prose,
            findings=sorted(self.defects, key=lambda f: f.span.line),
        )

    def _check_fences(self, tokens: list[Token]) -> None:
        for tok in tokens:
            if tok.type != "fence" or not tok.map:
                continue
            start, end = tok.map
            opening = self.lines[start].lstrip()
            marker = opening[0] * (len(opening) - len(opening.lstrip(opening[0])))
            last = self.lines[end - 1].strip() if end - 1 < len(self.lines) else ""
            closed = end - 1 > start and last.startswith(marker) and set(last) <= {marker[0]}
            if not closed:
                self.fail(
                    "unclosed-fence",
                    f"the code block opened here with {marker!r} is never closed (it runs to the end of the file)",
                    self.line_span(start + 1),
                )

    # -- walking ----------------------------------------------------------------------------
    def _walk(self, tokens: list[Token]) -> None:
        section: str | None = None  # "overview", "step", None
        state: _StepState | None = None
        expect_env = False
        i = 0
        list_depth = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.type == "front_matter":
                m = re.search(r"^title:\s*(.+)$", tok.content, re.MULTILINE)
                if m and not self.title:
                    self.title = m.group(1).strip().strip("'\"")
            elif tok.type == "heading_open":
                inline = _inline(tokens[i + 1])
                level = int(tok.tag[1:])
                hid = tok.attrGet("id")
                if level == 1 and not self.title:
                    self.title = inline.text
                if level <= 2:
                    self._finish_step(state)
                    state = None
                    section = None
                    if level == 2:
                        if self.lex.norm(inline.text) in {self.lex.norm(h) for h in self.lex.overview_headings}:
                            section = "overview"
                        else:
                            step = self._start_step(inline, hid if isinstance(hid, str) else None, tok)
                            if step is not None:
                                section = "step"
                                state = _StepState(step)
                                self._apply_heading_scope(state, inline)
                if state is None:
                    self.prose.append(Prose(inline.text, self.span(tok), "heading", inline.links))
                else:
                    if level > 2:
                        state.step.prose.append(Prose(inline.text, self.span(tok), "heading", inline.links))
                i += 3
                continue
            elif tok.type in ("bullet_list_open", "ordered_list_open"):
                if list_depth == 0 and section == "overview" and tok.type == "ordered_list_open":
                    i = self._overview_list(tokens, i)
                    continue
                if list_depth == 0 and expect_env:
                    expect_env = False
                    i = self._environment_list(tokens, i)
                    continue
                list_depth += 1
            elif tok.type in ("bullet_list_close", "ordered_list_close"):
                list_depth -= 1
            elif tok.type == "paragraph_open":
                inline = _inline(tokens[i + 1])
                span = self.span(tok)
                if list_depth == 0 and any(inline.text.startswith(p) for p in self.lex.environment_intro):
                    expect_env = True
                    self.prose.append(Prose(inline.text, span, "environment", inline.links))
                elif state is not None and list_depth == 0:
                    self._step_paragraph(state, inline, span)
                elif state is not None:
                    state.step.prose.append(Prose(inline.text, span, "list", inline.links))
                else:
                    self.prose.append(Prose(inline.text, span, "list" if list_depth else "paragraph", inline.links))
                i += 3
                continue
            elif tok.type in ("fence", "code_block"):
                self._fence(state, tok)
            elif tok.type == "html_block" and state is not None:
                self._annotation(state, tok)
            i += 1
        self._finish_step(state)

    # -- overview and environment ---------------------------------------------------------------
    def _overview_list(self, tokens: list[Token], i: int) -> int:
        start_attr = tokens[i].attrGet("start")
        number = int(start_attr) if isinstance(start_attr, (int, str)) and str(start_attr).isdigit() else 1
        depth = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.type in ("bullet_list_open", "ordered_list_open"):
                depth += 1
            elif tok.type in ("bullet_list_close", "ordered_list_close"):
                depth -= 1
                if depth == 0:
                    return i + 1
            elif tok.type == "inline" and depth == 1:
                self._overview_item(tok, number)
                number += 1
            i += 1
        return i

    def _overview_item(self, tok: Token, number: int) -> None:
        span = self.span(tok)
        children = tok.children or []
        tag: str | None = None
        m = _TAG_PREFIX_RE.match(tok.content)
        if m:
            tag = self.lex.tag_for(m.group("tag"))
        href = None
        title_parts: list[str] = []
        inside = False
        for child in children:
            if child.type == "link_open" and href is None:
                h = child.attrGet("href")
                href = h if isinstance(h, str) else None
                inside = True
            elif child.type == "link_close":
                inside = False
            elif inside and child.type == "text":
                title_parts.append(child.content)
            elif inside and child.type == "code_inline":
                title_parts.append(f"`{child.content}`")
        self.prose.append(Prose(_inline(tok).text, span, "overview", [href] if href else []))
        if href and href.startswith("#"):
            self.overview.append((number, tag, "".join(title_parts).strip(), href[1:], span))

    def _environment_list(self, tokens: list[Token], i: int) -> int:
        depth = 0
        current: Host | None = None
        while i < len(tokens):
            tok = tokens[i]
            if tok.type in ("bullet_list_open", "ordered_list_open"):
                depth += 1
            elif tok.type in ("bullet_list_close", "ordered_list_close"):
                depth -= 1
                if depth == 0:
                    i += 1
                    break
            elif tok.type == "inline":
                inline = _inline(tok)
                span = self.span(tok)
                self.prose.append(Prose(inline.text, span, "environment", inline.links))
                if depth == 1:
                    current = self._env_host(inline.plain, span)
                elif depth >= 2 and current is not None:
                    self._env_field(current, inline.plain, span)
            i += 1
        self._make_groups()
        return i

    def _split_label(self, label: str) -> tuple[str, int | None, str] | None:
        """``スタンバイ1`` -> (role, 1, role label); ``Primary`` -> (primary, None, Primary)."""
        m = re.match(r"^(?P<name>.*?)\s*(?P<num>\d+)?$", label.strip())
        if not m:
            return None
        name = m.group("name")
        for word, role in self.lex.roles.items():
            if self.lex.norm(word) == self.lex.norm(name):
                num = m.group("num")
                return role, int(num) if num else None, word
        return None

    def _env_host(self, text: str, span: Span) -> Host | None:
        label = re.sub(r"\s*[：:]\s*$", "", text)
        parsed = self._split_label(label)
        if parsed is None:
            self.defect("environment-unknown-host", "warning",
                        f"environment entry {label!r} is not a known host role", span)
            return None
        role, number, _ = parsed
        host = Host(id=f"{role}{number if number is not None else ''}", label=label, role=role,
                    number=number, address=None, os=None, span=span)
        self.hosts.append(host)
        self.labels[self.lex.norm(label)] = [host.id]
        return host

    def _env_field(self, host: Host, text: str, span: Span) -> None:
        m = re.match(r"^(?P<key>[^:：]+?)\s*[：:]\s*(?P<value>.*)$", text)
        if not m:
            return
        key, value = m.group("key").strip(), m.group("value").strip().strip("`").strip()
        name = None
        for word, fname in self.lex.fields.items():
            if self.lex.norm(word) == self.lex.norm(key):
                name = fname
        if name is None:
            name = re.sub(r"\W+", "_", key.casefold()).strip("_") or "field"
        host.fields[name] = value
        if name == "address":
            host.address = value
            self.variables.append(Variable(f"{host.id}.address", value, "address", False, span, host.id))
        elif name == "os":
            host.os = value
        else:
            secret = name in lexicons.common()["secrets"]["fields"]
            kind = {"database": "database", "replication_user": "user", "user": "user"}.get(name, "text")
            if secret:
                kind = "password"
            vname = name if self.variable(name) is None else f"{host.id}.{name}"
            self.variables.append(Variable(vname, value, kind, secret, span, host.id))

    def variable(self, name: str) -> Variable | None:
        return next((v for v in self.variables if v.name == name), None)

    def _make_groups(self) -> None:
        by_role: dict[str, list[Host]] = {}
        for h in self.hosts:
            by_role.setdefault(h.role, []).append(h)
        for role, members in by_role.items():
            if len(members) < 2 and all(m.number is None for m in members):
                continue
            label = next((w for w, r in self.lex.groups.items() if r == role), None)
            if label is None:
                label = next(w for w, r in self.lex.roles.items() if r == role)
            group = Group(id=f"{role}s", label=label, members=[m.id for m in members])
            self.groups.append(group)
            self.labels.setdefault(self.lex.norm(label), group.members)

    # -- steps ------------------------------------------------------------------------------
    def _start_step(self, inline: _Inline, hid: str | None, tok: Token) -> Step | None:
        m = _TAG_PREFIX_RE.match(inline.text)
        tag = self.lex.tag_for(m.group("tag")) if m else None
        linked = hid is not None and any(o[3] == hid for o in self.overview)
        if tag is None and not linked:
            return None
        title = inline.text[m.end():] if m and tag else inline.text
        span = self.span(tok)
        if hid is None:
            hid = re.sub(r"[^\w]+", "-", title.casefold()).strip("-") or f"step-{len(self.steps) + 1}"
            self.defect("step-without-id", "warning", f"step heading has no {{#id}}; using {hid!r}", span)
        if any(s.id == hid for s in self.steps):
            self.fail("duplicate-step-id", f"step id {hid!r} is used twice", span)
        step = Step(id=hid, number=None, tag=tag, title=title.strip(), overview_title=None, span=span)
        self.steps.append(step)
        return step

    def _finish_step(self, state: _StepState | None) -> None:
        if state is None:
            return
        self._check_dangling_edit(state)

    def _check_dangling_edit(self, state: _StepState) -> None:
        if state.edit in ("have-before", "expect-after") and state.marker_span is not None:
            before_word = self.lex.before[0]
            after_word = self.lex.after[0]
            self.fail(
                "edit-without-after",
                f"'{before_word}' block has no '{after_word}' block after it",
                state.marker_span,
            )
        elif state.edit == "expect-before" and state.marker_span is not None:
            self.fail("edit-marker-without-block", f"'{self.lex.before[0]}' is not followed by a code block",
                      state.marker_span)
        state.edit = None
        state.marker_span = None

    def _apply_heading_scope(self, state: _StepState, inline: _Inline) -> None:
        text = _TAG_PREFIX_RE.sub("", inline.plain, count=1)
        hosts = self._scope(text)
        if hosts:
            state.scope = hosts
            state.scope_source = "heading"
            state.step.scope = hosts

    def _scope(self, text: str) -> list[str] | None:
        """Hosts named by a scope phrase at the start of ``text``'s first sentence."""
        first = self.lex.sentence_end.split(text, maxsplit=1)[0]
        if not self.labels:
            return None
        alternation = "|".join(re.escape(k) for k in sorted(self.labels, key=len, reverse=True))
        flags = re.IGNORECASE if self.lex.case_insensitive else 0
        subject = self.lex.norm(first)
        for pattern in self.lex.scope_patterns:
            n = 0

            def repl(_: re.Match[str]) -> str:
                nonlocal n
                n += 1
                return f"(?P<h{n}>{alternation})"

            regex = re.sub(r"\{host\}", repl, pattern)
            m = re.search(regex, subject, flags)
            if m:
                hosts: list[str] = []
                for k in range(1, n + 1):
                    for h in self.labels.get(self.lex.norm(m.group(f"h{k}")), []):
                        if h not in hosts:
                            hosts.append(h)
                return [h.id for h in self.hosts if h.id in hosts]
        return None

    def _step_paragraph(self, state: _StepState, inline: _Inline, span: Span) -> None:
        text = inline.text
        step = state.step
        # File-edit markers.
        if self.lex.is_marker(text, "before"):
            if state.path is None:
                self.fail("edit-without-path", f"'{text}' has no file path paragraph before it", span)
            state.edit = "expect-before"
            state.marker_span = span
            step.prose.append(Prose(text, span, "marker"))
            return
        if self.lex.is_marker(text, "after"):
            if state.edit != "have-before":
                self.fail("after-without-before", f"'{text}' has no '{self.lex.before[0]}' block before it", span)
            state.edit = "expect-after"
            step.prose.append(Prose(text, span, "marker"))
            return
        pm = self.lex.path_re.match(inline.raw.strip())
        if pm:
            self._check_dangling_edit(state)
            state.path = pm.group("path")
            state.path_span = span
            step.prose.append(Prose(text, span, "path"))
            return
        lm = self.lex.label_re.match(inline.plain.strip())
        if lm and not inline.links:
            label = lm.group("label")
            hosts = self.labels.get(self.lex.norm(label))
            if hosts:
                state.scope = [h.id for h in self.hosts if h.id in hosts]
                state.scope_source = "label"
                step.prose.append(Prose(text, span, "label"))
                return
            parsed = self._split_label(label)
            if parsed is not None:
                known = ", ".join(h.label for h in self.hosts) or "none"
                self.fail("unknown-host-label", f"label {label!r} names no host of the environment (hosts: {known})",
                          span)
                step.prose.append(Prose(text, span, "label"))
                return
        hosts = self._scope(inline.plain)
        if hosts:
            state.scope = hosts
            state.scope_source = "prose"
            step.prose.append(Prose(text, span, "scope", inline.links))
            return
        step.prose.append(Prose(text, span, "paragraph", inline.links))

    def _annotation(self, state: _StepState, tok: Token) -> None:
        """``<!-- runbook: hosts=standby1,standby2 -->`` before a block overrides the inferred hosts
        (for guides whose prose is ambiguous); any other HTML is kept as prose."""
        span = self.span(tok)
        m = _ANNOTATION_RE.match(tok.content.strip())
        if not m:
            state.step.prose.append(Prose(tok.content.strip(), span, "html"))
            return
        names = [n.strip() for n in m.group("hosts").split(",") if n.strip()]
        known = {h.id for h in self.hosts} | {g.id for g in self.groups}
        unknown = [n for n in names if n not in known]
        if unknown:
            self.fail("unknown-host-annotation", f"annotation names no host of the environment: {', '.join(unknown)} "
                      f"(hosts and groups: {', '.join(sorted(known))})", span)
            return
        hosts: set[str] = set()
        for n in names:
            group = next((g for g in self.groups if g.id == n), None)
            hosts.update(group.members if group else [n])
        state.scope = [h.id for h in self.hosts if h.id in hosts]
        state.scope_source = "annotation"
        state.step.prose.append(Prose(tok.content.strip(), span, "annotation"))

    # -- blocks -----------------------------------------------------------------------------
    def _fence(self, state: _StepState | None, tok: Token) -> None:
        info = (tok.info or "").strip().split()
        lang = info[0].lower() if info else ""
        code = tok.content
        m = tok.map or [0, 1]
        span = Span(self.file, m[0] + 1, m[1])
        first_code_line = m[0] + 2 if tok.type == "fence" else m[0] + 1
        block = Block(line=span.line, end_line=span.end_line, lang=lang, role="action", action=None)
        self.blocks.append(block)
        if state is None:
            note = Action(id=f"note-{len(self.notes) + 1}", kind="note", lang=lang, targets=[],
                          target_source="heading", span=span, code=code)
            block.role, block.action = "note", note.id
            self.notes.append(note)
            if lang in SHELL_LANGS | CONSOLE_LANGS | SQL_LANGS:
                self.defect("block-outside-step", "warning", "this code block is outside any step; it is not run", span)
            return
        step = state.step
        if state.edit == "expect-before":
            state.before, state.before_span = code, span
            state.before_block = block
            block.role = "before"
            state.edit = "have-before"
            return
        if state.edit == "have-before":
            self._check_dangling_edit(state)
        targets = self._targets(state, span)
        aid = f"{step.id}#{len(step.actions) + 1}"
        if state.edit == "expect-after":
            action = Action(id=aid, kind="file_edit", lang=lang, targets=targets,
                            target_source=state.scope_source, span=span, code=code,  # type: ignore[arg-type]
                            path=state.path, path_span=state.path_span, before=state.before,
                            before_span=state.before_span, after=code, after_span=span)
            if state.before_block is not None:
                state.before_block.action = aid
            state.edit, state.marker_span, state.path, state.before, state.before_block = None, None, None, None, None
        elif state.path is not None and lang not in SHELL_LANGS | CONSOLE_LANGS | SQL_LANGS | NON_EXECUTABLE:
            action = Action(id=aid, kind="file_write", lang=lang, targets=targets,
                            target_source=state.scope_source, span=span, code=code,  # type: ignore[arg-type]
                            path=state.path, path_span=state.path_span, after=code, after_span=span)
            state.path = None
        elif lang in NON_EXECUTABLE or lang not in SHELL_LANGS | CONSOLE_LANGS | SQL_LANGS:
            note = Action(id=f"note-{len(self.notes) + 1}", kind="note", lang=lang, targets=[],
                          target_source="heading", span=span, code=code)
            block.role, block.action = "note", note.id
            self.notes.append(note)
            if lang not in NON_EXECUTABLE:
                self.defect("block-not-run", "warning",
                            f"a {lang or 'plain'} block with no file path before it is kept but not run", span)
            return
        else:
            kind = "shell" if lang in SHELL_LANGS else "console" if lang in CONSOLE_LANGS else "sql"
            action = Action(id=aid, kind=kind, lang=lang, targets=targets,  # type: ignore[arg-type]
                            target_source=state.scope_source, span=span, code=code)  # type: ignore[arg-type]
            if kind == "shell":
                action.commands = self._shell_commands(code, first_code_line)
            elif kind == "console":
                action.commands = self._console(code, first_code_line)
            else:
                action.statements = self._sql(code, first_code_line)
        block.action = aid
        self._sessions(action)
        step.actions.append(action)

    def _targets(self, state: _StepState, span: Span) -> list[str]:
        if state.scope:
            return list(state.scope)
        if len(self.hosts) == 1:
            state.scope_source = "single-host"
            return [self.hosts[0].id]
        self.fail("no-target",
                  "cannot tell which host runs this block: no host label before it, no scope phrase in the "
                  "prose, and none in the step's heading", span)
        return []

    # -- shell, console, SQL --------------------------------------------------------------------
    def _logical_lines(self, code: str, first_line: int) -> list[tuple[str, int, int]]:
        """Lines with ``\\`` continuations joined: (text, first line, last line)."""
        out: list[tuple[str, int, int]] = []
        buf: list[str] = []
        start = first_line
        heredoc: str | None = None
        for n, line in enumerate(code.split("\n")):
            lineno = first_line + n
            if not buf:
                start = lineno
            if heredoc is not None:
                buf.append(line)
                if line.strip() == heredoc:
                    out.append(("\n".join(buf), start, lineno))
                    buf, heredoc = [], None
                continue
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            buf.append(line)
            hm = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
            if hm and not line.rstrip().endswith("\\"):
                heredoc = hm.group(1)
                continue
            if line.rstrip().endswith("\\"):
                continue
            out.append(("\n".join(buf), start, lineno))
            buf = []
        if buf:
            out.append(("\n".join(buf), start, first_line + len(code.split("\n")) - 1))
        return out

    def _shell_commands(self, code: str, first_line: int) -> list[Command]:
        return [Command(text, self.line_span(a, b)) for text, a, b in self._logical_lines(code, first_line)]

    def _console(self, code: str, first_line: int) -> list[Command]:
        commands: list[Command] = []
        lines = code.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        i = 0
        while i < len(lines):
            line = lines[i]
            lineno = first_line + i
            if line.startswith("$ ") or line == "$":
                buf = [line[2:]]
                end = lineno
                while buf[-1].rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    buf.append(lines[i])
                    end = first_line + i
                commands.append(Command("\n".join(buf), self.line_span(lineno, end)))
            elif commands:
                pm = _PROMPT_RE.match(line)
                if pm and not commands[-1].output:
                    answer = pm.group("answer")
                    commands[-1].dialog.append(
                        Turn(pm.group("prompt"), Answer(literal=answer), self.line_span(lineno))
                    )
                else:
                    commands[-1].output.append(line)
            elif line.strip():
                self.defect("console-output-before-command", "warning",
                            "console block line before any '$ ' command", self.line_span(lineno))
            i += 1
        return commands

    def _sql(self, code: str, first_line: int) -> list[Statement]:
        statements: list[Statement] = []
        lines = code.split("\n")
        buf: list[str] = []
        buf_start = first_line
        expected: list[str] = []
        exp_start = 0
        in_quote = False

        def flush_expected() -> None:
            nonlocal expected
            if expected and statements:
                span = self.line_span(exp_start, exp_start + len(expected) - 1)
                statements[-1].expected = parse_expected(expected, span)
            expected = []

        for n, line in enumerate(lines):
            lineno = first_line + n
            stripped = line.strip()
            if not buf:
                if stripped.startswith("--"):
                    if statements and statements[-1].expected is None:
                        if not expected:
                            exp_start = lineno
                        expected.append(re.sub(r"^\s*-- ?", "", line))
                    continue
                if (stripped.startswith("-") and not stripped.startswith("--") and statements
                        and statements[-1].expected is None and n + 1 < len(lines)
                        and lines[n + 1].strip().startswith("--")):
                    self.defect("expected-output-malformed", "error",
                                "expected-output line starts with '-' instead of '-- ' (read as expected output; "
                                "typed as written it would be SQL)", self.line_span(lineno))
                    if not expected:
                        exp_start = lineno
                    expected.append(re.sub(r"^\s*- ?", "", line))
                    continue
                flush_expected()
                if not stripped:
                    continue
                if stripped.startswith("\\"):
                    statements.append(Statement(stripped, self.line_span(lineno)))
                    continue
                buf_start = lineno
            buf.append(line)
            in_quote = (line.count("'") % 2 == 1) != in_quote
            if stripped.endswith(";") and not in_quote:
                statements.append(Statement("\n".join(buf), self.line_span(buf_start, lineno)))
                buf = []
        flush_expected()
        if buf and any(b.strip() for b in buf):
            statements.append(Statement("\n".join(buf).rstrip(), self.line_span(buf_start, buf_start + len(buf) - 1)))
            self.defect("sql-no-semicolon", "warning", "SQL statement does not end with ';'",
                        self.line_span(buf_start))
        return statements

    # -- sessions ---------------------------------------------------------------------------
    def _sessions(self, action: Action) -> None:
        if action.kind in ("shell", "console", "file_edit", "file_write"):
            for host in action.targets:
                if host in self.open_sessions and action.kind in ("shell", "console"):
                    action.closes_sessions.append(self.open_sessions.pop(host))
            for cmd in action.commands:
                opened = _psql_session(cmd.text)
                if opened is None:
                    continue
                database, user = opened
                self.session_count += 1
                base = f"s{self.session_count}"
                cmd.opens_session = base
                for host in action.targets:
                    sid = f"{base}@{host}"
                    self.sessions.append(Session(sid, host, database, user, False, action.id, cmd.span))
                    self.open_sessions[host] = sid
        elif action.kind == "sql":
            for host in action.targets:
                found = self.open_sessions.get(host)
                if found is None:
                    self.session_count += 1
                    sid = f"s{self.session_count}@{host}"
                    db = self.variable("database")
                    self.sessions.append(
                        Session(sid, host, db.value if db else None, "${USER}", True, None, action.span)
                    )
                    self.open_sessions[host] = sid
                else:
                    sid = found
                action.sessions[host] = sid

    # -- variables --------------------------------------------------------------------------
    def _code_texts(self) -> list[tuple[str, Span]]:
        out: list[tuple[str, Span]] = []
        for step in self.steps:
            for a in step.actions:
                for c in a.commands:
                    out.append((c.text, c.span))
                if a.path and a.path_span:
                    out.append((a.path, a.path_span))
                for text in (a.before, a.after):
                    if text:
                        out.append((text, a.span))
                for st in a.statements:
                    out.append((st.sql, st.span))
        return out

    def _collect_code_variables(self) -> None:
        texts = self._code_texts()
        # PostgreSQL major version and other repeated values (common.toml).
        for spec in lexicons.common().get("values", []):
            found: dict[str, Span] = {}
            for text, span in texts:
                for pattern in spec["patterns"]:
                    for m in re.finditer(pattern, text):
                        found.setdefault(m.group("v"), span)
            if not found:
                continue
            if len(found) > 1:
                where = ", ".join(f"{v} ({s})" for v, s in found.items())
                self.defect("inconsistent-value", "warning", f"{spec['name']} has several values: {where}",
                            next(iter(found.values())))
            value, span = next(iter(found.items()))
            self.variables.append(Variable(spec["name"], value, spec["kind"], False, span, None,
                                           list(spec["patterns"])))
        # Networks that contain the hosts' addresses (pg_hba.conf lines).
        addresses = []
        for h in self.hosts:
            try:
                if h.address:
                    addresses.append(ipaddress.ip_address(h.address))
            except ValueError:
                self.defect("bad-address", "warning", f"{h.label}: {h.address!r} is not an IP address", h.span)
        seen: set[str] = set()
        for text, span in texts:
            for m in _CIDR_RE.finditer(text):
                try:
                    net = ipaddress.ip_network(m.group("net"), strict=False)
                except ValueError:
                    continue
                if m.group("net") in seen or not any(a in net for a in addresses):
                    continue
                seen.add(m.group("net"))
                name = "network" if len(seen) == 1 else f"network{len(seen)}"
                self.variables.append(Variable(name, m.group("net"), "network", False, span))

    def _bind_answers(self) -> None:
        for step in self.steps:
            for a in step.actions:
                for c in a.commands:
                    for turn in c.dialog:
                        lit = turn.answer.literal
                        var = next((v for v in self.variables if v.value == lit and lit), None)
                        if var is not None:
                            turn.answer = Answer(var=var.name)

    # -- overview ---------------------------------------------------------------------------
    def _check_overview(self) -> None:
        by_id = {s.id: s for s in self.steps}
        for number, tag, title, anchor, span in self.overview:
            step = by_id.get(anchor)
            if step is None:
                ids = ", ".join(by_id) or "none"
                self.fail("missing-anchor", f"overview links to #{anchor}, but no step has that id (steps: {ids})",
                          span)
                continue
            step.number = number
            step.overview_title = title
            step.overview_span = span
            if tag is not None and step.tag is not None and tag != step.tag:
                self.defect("overview-tag-mismatch", "error",
                            f"overview tags step #{anchor} as {tag}, its heading as {step.tag}", span)


def _psql_session(command: str) -> tuple[str | None, str | None] | None:
    """``psql blog`` -> (database, user) when the command opens an interactive psql."""
    if "\n" in command or any(ch in command for ch in "|<>;&"):
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


# -- public API --------------------------------------------------------------------------------


def parse_text(text: str, file: str = "guide.md", lang: str | None = None, lex: Lexicon | None = None) -> Graph:
    """Read a guide's text into a step graph (raises :class:`GuideError`)."""
    if not text.strip():
        raise GuideError("empty", [Finding("empty-file", "error", "the file is empty", Span(file, 1, 1))])
    if lex is None:
        lex = lexicons.load(lang or lexicons.detect_language(text))
    return _Parser(text, file, lex).run()


def parse_file(path: Path | str, lang: str | None = None, display: str | None = None) -> Graph:
    path = Path(path)
    name = display or str(path)
    return parse_text(read_guide(path, name), name, lang)
