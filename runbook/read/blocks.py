"""Blocks stage: the steps' nodes and their prose's cues -> what each fenced block is for, where.

A block is an action, a file edit's before text, or a note; an action runs on the hosts the
closest cue names (label, scope phrase, annotation, the heading), or on a one-host guide's host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..kinds import ActionKind, BlockRole, EditKind, ProseRole, Severity, Shape, TargetSource
from ..model import Action, Block, Prose, Span, Step
from . import edits
from .frame import Frame
from .languages import CONSOLE_LANGS, EXECUTABLE, NON_EXECUTABLE, SHELL_LANGS, SQL_LANGS, has_commands, shown_role
from .outline import Node, Outline
from .problems import Problems
from .prose import Cue, Cues
from .shape import Page, runs
from .sql import is_syntax

EditState = Literal["expect-before", "have-before", "expect-after"]


@dataclass(slots=True)
class Placed:
    """An action of a step, and the line its code starts on (for the spans of its commands)."""

    action: Action
    first_line: int


@dataclass(slots=True)
class Blocks:
    """Every fenced block of the guide, accounted for."""

    actions: list[Placed] = field(default_factory=list)
    """The steps' actions in document order (also appended to their step)."""
    notes: list[Action] = field(default_factory=list)
    """Blocks that are kept but not run."""
    inventory: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class _StepState:
    step: Step
    scope: list[str] | None = None
    scope_source: TargetSource = TargetSource.HEADING
    path: str | None = None
    path_span: Span | None = None
    edit: EditState | None = None
    marker_span: Span | None = None
    before: str | None = None
    before_span: Span | None = None
    before_block: Block | None = None
    append: tuple[str, Span] | None = None
    """Lines to add: the path and the paragraph that says so, for the block right after it."""
    hint: list[str] = field(default_factory=list)
    """Hosts a paragraph seemed to name without saying so clearly (for the no-target message)."""
    named: edits.Intro | None = None
    """The file the heading or the last paragraph names: a before/after edit's file without a path paragraph."""


def blocks(doc: Outline, frame: Frame, page: Page, cues: Cues, problems: Problems) -> Blocks:
    """Walk each step's nodes in order, keeping the current hosts and the pending file edit; fill each
    step's prose, scope and actions; blocks outside the steps become notes."""
    nodes = doc.nodes
    placer = _Placer(cues, problems, Blocks(), edits.guide_paths(nodes, cues.lex), tagged=page.kind == Shape.GUIDE)
    for section in page.sections:
        step = section.step
        if step is None:
            for node in nodes[section.start:section.end]:
                if node.kind == "fence" and not frame.owns(node):
                    placer.fence(None, node)
            continue
        state = _StepState(step, named=edits.named(nodes[section.start]))
        hosts = cues.heading(nodes[section.start])
        if hosts:
            state.scope, step.scope = hosts, hosts
        for i in range(section.start + 1, section.end):
            node = nodes[i]
            if frame.owns(node) or i in frame.intros:
                continue
            if node.kind == "fence":
                placer.fence(state, node)
            elif node.kind == "html":
                placer.cue(state, cues.html(node))
            elif node.inline is None:
                continue
            elif node.kind == "heading":
                step.prose.append(Prose(node.inline.text, node.span, ProseRole.HEADING, node.inline.links))
            elif node.depth:
                step.prose.append(Prose(node.inline.text, node.span, ProseRole.LIST, node.inline.links))
            else:
                cue = cues.paragraph(node)
                state.named = edits.named(node) or state.named
                described = edits.intro(nodes, i, section.end, cues.lex)
                if described is not None and cue.prose is not None:
                    cue.prose.role = ProseRole(described.kind)
                placer.cue(state, cue)
                if described is not None:
                    placer.described(state, described)
        placer.dangling(state)
    return placer.out


@dataclass(slots=True)
class _Placer:
    cues: Cues
    problems: Problems
    out: Blocks
    paths: dict[str, str] = field(default_factory=dict)
    """File name -> the path the guide writes for it (for prose that names the file alone)."""
    tagged: bool = True
    """A tagged guide: blocks not run are ``note``; other pages say why (:func:`shown_role`)."""
    last_run: int = -10
    """Last line of the last block that runs (a ``text`` block right after it is its output)."""

    def described(self, state: _StepState, intro: edits.Intro) -> None:
        """An edit the prose describes: settings now, lines to add with the block that follows."""
        span = Span(intro.span.file, intro.span.line, intro.span.line)
        if intro.kind == EditKind.APPEND:  # its hosts are those of the block it introduces
            path = edits.resolve(intro, self.cues.env.hosts, list(state.scope or []), self.paths, self.problems)
            if path is not None:
                state.append = (path, span)
            return
        targets = self.targets(state, span)
        path = edits.resolve(intro, self.cues.env.hosts, targets, self.paths, self.problems)
        if path is None:
            return
        step = state.step
        code = "\n".join(intro.settings) + "\n"
        action = Action(id=f"{step.id}#{len(step.actions) + 1}", kind=ActionKind.FILE_EDIT, lang="", targets=targets,
                        target_source=state.scope_source, span=intro.span, code=code, path=path, path_span=span,
                        after=code, after_span=intro.span, edit=EditKind.SETTINGS)
        step.actions.append(action)
        self.out.actions.append(Placed(action, intro.span.line))

    def cue(self, state: _StepState, cue: Cue) -> None:
        """Apply what a paragraph says to the blocks that follow it."""
        if cue.prose is not None:
            state.step.prose.append(cue.prose)
        lex = self.cues.lex
        if cue.kind == "before":
            assert cue.prose is not None
            if state.path is None and state.named is not None:  # the file the heading or prose names
                state.path = edits.resolve(state.named, self.cues.env.hosts, list(state.scope or []), self.paths,
                                           self.problems)
                state.path_span = cue.prose.span  # no path paragraph: the edit starts at its marker
            if state.path is None:
                self.problems.fail("edit-without-path", f"'{cue.prose.text}' has no file path paragraph before it",
                                   cue.prose.span)
            state.edit = "expect-before"
            state.marker_span = cue.prose.span
        elif cue.kind == "after":
            assert cue.prose is not None
            if state.edit != "have-before":
                self.problems.fail("after-without-before",
                                   f"'{cue.prose.text}' has no '{lex.before[0]}' block before it", cue.prose.span)
            state.edit = "expect-after"
        elif cue.kind == "path":
            assert cue.prose is not None
            self.dangling(state)
            state.path = cue.path
            state.path_span = cue.prose.span
        elif cue.kind == "hosts":
            state.scope = cue.hosts
            state.scope_source = cue.source
        elif cue.hosts:
            state.hint = cue.hosts

    def dangling(self, state: _StepState) -> None:
        """A before marker or block with no after block is fatal; the pending edit is dropped."""
        lex = self.cues.lex
        if state.edit in ("have-before", "expect-after") and state.marker_span is not None:
            self.problems.fail("edit-without-after", f"'{lex.before[0]}' block has no '{lex.after[0]}' block after it",
                               state.marker_span)
        elif state.edit == "expect-before" and state.marker_span is not None:
            self.problems.fail("edit-marker-without-block", f"'{lex.before[0]}' is not followed by a code block",
                               state.marker_span)
        state.edit = None
        state.marker_span = None

    def targets(self, state: _StepState, span: Span) -> list[str]:
        """The current hosts; the only host of a one-host guide; else a fatal problem."""
        if state.scope:
            return list(state.scope)
        hosts = self.cues.env.hosts
        if len(hosts) == 1:
            state.scope_source = TargetSource.SINGLE_HOST
            return [hosts[0].id]
        self.problems.fail("no-target",
                           "cannot tell which host runs this block: no host label before it, no scope phrase in the "
                           f"prose, and none in the step's heading; {self.cues.suggestion(state.hint)}", span)
        return []

    def note(self, block: Block, node: Node) -> Action:
        note = Action(id=f"note-{len(self.out.notes) + 1}", kind=ActionKind.NOTE, lang=node.lang, targets=[],
                      target_source=TargetSource.HEADING, span=node.span, code=node.code)
        block.action = note.id
        if node.lang in SQL_LANGS and is_syntax(node.code):
            block.role = BlockRole.SYNTAX
        elif self.tagged:
            block.role = BlockRole.NOTE
        else:
            block.role = shown_role(node.lang, node.span.line <= self.last_run + 2)
        self.out.notes.append(note)
        return note

    def append(self, state: _StepState, block: Block, node: Node) -> bool:
        """The block after an append paragraph (``追記します``): the text appended to the file the
        paragraph named, if the block's language can be a file's; the paragraph is consumed either way."""
        assert state.append is not None
        path, path_span = state.append
        state.append = None
        if node.lang not in edits.APPEND_LANGS:
            return False
        step, span = state.step, node.span
        aid = f"{step.id}#{len(step.actions) + 1}"
        action = Action(id=aid, kind=ActionKind.FILE_EDIT, lang=node.lang, targets=self.targets(state, span),
                        target_source=state.scope_source, span=span, code=node.code, path=path,
                        path_span=path_span, after=node.code, after_span=span, edit=EditKind.APPEND)
        block.action = aid
        step.actions.append(action)
        self.out.actions.append(Placed(action, node.first_line))
        return True

    def fence(self, state: _StepState | None, node: Node) -> None:
        lang, code, span = node.lang, node.code, node.span
        block = Block(line=span.line, end_line=span.end_line, lang=lang, role=BlockRole.ACTION, action=None)
        self.out.inventory.append(block)
        if state is None:
            self.note(block, node)
            if runs(node):
                self.problems.defect("block-outside-step", Severity.WARNING,
                                     "this code block is outside any step; it is not run", span)
            return
        if state.append is not None and self.append(state, block, node):
            return
        if state.edit == "expect-before":
            state.before, state.before_span, state.before_block = code, span, block
            block.role = BlockRole.BEFORE
            state.edit = "have-before"
            return
        if state.edit == "have-before":
            self.dangling(state)
        if state.edit is None and lang in EXECUTABLE and not _runnable(lang, code):
            self.note(block, node)
            self.problems.defect("empty-block", Severity.WARNING,
                                 f"this {lang} block has nothing to run; it is kept but not run", span)
            return
        targets = self.targets(state, span)
        step = state.step
        aid = f"{step.id}#{len(step.actions) + 1}"
        if state.edit == "expect-after":
            action = Action(id=aid, kind=ActionKind.FILE_EDIT, lang=lang, targets=targets,
                            target_source=state.scope_source, span=span, code=code, path=state.path,
                            path_span=state.path_span, before=state.before, before_span=state.before_span, after=code,
                            after_span=span)
            if state.before_block is not None:
                state.before_block.action = aid
            state.edit, state.marker_span, state.path, state.before, state.before_block = None, None, None, None, None
        elif state.path is not None and lang not in EXECUTABLE | NON_EXECUTABLE:
            action = Action(id=aid, kind=ActionKind.FILE_WRITE, lang=lang, targets=targets,
                            target_source=state.scope_source, span=span, code=code, path=state.path,
                            path_span=state.path_span, after=code, after_span=span)
            state.path = None
        elif lang not in EXECUTABLE or not runs(node):
            self.note(block, node)
            if lang in EXECUTABLE and block.role != BlockRole.SYNTAX:
                self.problems.defect("block-not-run", Severity.WARNING,
                                     f"this {lang} block has no command to run; it is kept but not run", span)
            if lang not in NON_EXECUTABLE:
                self.problems.defect("block-not-run", Severity.WARNING,
                                     f"a {lang or 'plain'} block with no file path before it is kept but not run", span)
            return
        else:
            kind = (ActionKind.SHELL if lang in SHELL_LANGS else ActionKind.CONSOLE if lang in CONSOLE_LANGS
                    else ActionKind.SQL)
            action = Action(id=aid, kind=kind, lang=lang, targets=targets, target_source=state.scope_source,
                            span=span, code=code)
        block.action = aid
        self.last_run = span.end_line
        step.actions.append(action)
        self.out.actions.append(Placed(action, node.first_line))


def _runnable(lang: str, code: str) -> bool:
    """The block has a command or a statement (not only blank lines and comments)."""
    if lang in CONSOLE_LANGS:
        prompts = _PROMPT_LINE_RE.findall(code)
        if prompts:
            return any(p.strip() for p in prompts)
        return has_commands(lang, code)  # a script: its prose lines ("How to install:") are not commands
    comment = "--" if lang in SQL_LANGS else "#"
    return any(ln.strip() and not ln.lstrip().startswith(comment) for ln in code.split("\n"))


_PROMPT_LINE_RE = re.compile(r"^[$%#](?: (.*)|)$", re.MULTILINE)
"""A console prompt line (its command, if any), as the actions stage reads it."""
