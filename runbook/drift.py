"""Compare two step graphs: what would run differently, and what only reads differently.

Works on :class:`~runbook.model.Graph` only (two revisions of a guide, or two languages of it).
Steps are aligned by heading id, then by content; actions inside a step by kind and code; then
each aligned pair is compared field by field.  Every change carries the place in both files, so a
report line reads ``old.md:12 → new.md:14  step#2  command changed``.

Executable changes (exit status 1): steps added, removed, moved or renamed; actions added or
removed; targets; commands; SQL; expected output; file edits and writes; variables; hosts.
Prose changes (exit status 0): titles, paragraphs, tags, link targets.  When the two graphs are in
different languages, titles and paragraph texts are not compared; link targets still are.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from .model import Action, Command, Expected, Graph, Prose, Span, Statement, Step

Verdict = Literal["executable", "prose", "none"]

RENAME_SIMILARITY = 0.8
"""Two steps with different ids are the same step renamed when their actions have the same kinds
and their code is at least this similar (difflib ratio)."""

_PROSE_ROLES_SKIPPED = {"label", "path", "marker", "environment", "overview"}
"""Prose that the graph already holds elsewhere (targets, edit paths, hosts and variables, the
steps' overview titles): compared there (their links are still compared)."""

# kind -> section of the human report, in report order.
SECTIONS: dict[str, str] = {
    "step-added": "Steps added, removed, moved or renamed",
    "step-removed": "Steps added, removed, moved or renamed",
    "step-moved": "Steps added, removed, moved or renamed",
    "step-renamed": "Steps added, removed, moved or renamed",
    "host": "Hosts",
    "variable": "Variables",
    "action-added": "Actions added or removed",
    "action-removed": "Actions added or removed",
    "targets": "Targets changed",
    "command": "Commands changed",
    "edit": "File edits and writes changed",
    "write": "File edits and writes changed",
    "expected": "Expected output changed",
    "guide-title": "Titles",
    "title": "Titles",
    "overview-title": "Titles",
    "tag": "Tags",
    "paragraph": "Paragraphs",
    "link": "Link targets",
}

EXECUTABLE_KINDS = frozenset(k for k in list(SECTIONS)[: list(SECTIONS).index("guide-title")])


@dataclass(slots=True)
class Where:
    """A place in one of the two files."""

    file: str
    line: int
    absent: bool = False
    """True when the thing is missing on this side: ``line`` is where it would be."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" + (" (absent)" if self.absent else "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "line": self.line}
        if self.absent:
            out["absent"] = True
        return out


@dataclass(slots=True)
class Change:
    """One difference between the two graphs."""

    kind: str
    """A key of :data:`SECTIONS`: ``command``, ``targets``, ``step-removed``, ``paragraph`` …"""
    summary: str
    """What changed, in a few words (never a secret's value)."""
    old: Where | None
    new: Where | None
    step: str | None = None
    """Step id (the new one when it was renamed)."""
    action: str | None = None
    """Action id (``step#n``, the new side's when both exist)."""
    diff: list[str] = field(default_factory=list)
    """Unified diff lines (``-``/``+``/`` `` prefixed, ``@@`` hunks), when text changed."""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def executable(self) -> bool:
        return self.kind in EXECUTABLE_KINDS

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "summary": self.summary, "step": self.step}
        if self.action is not None:
            out["action"] = self.action
        out["old"] = self.old.to_dict() if self.old else None
        out["new"] = self.new.to_dict() if self.new else None
        details = dict(self.details)
        if self.diff:
            details["diff"] = list(self.diff)
        out["details"] = details
        return out


@dataclass(slots=True)
class Report:
    """Every change between two graphs, executable ones apart from prose ones."""

    old_file: str
    new_file: str
    old_lang: str
    new_lang: str
    executable: list[Change]
    prose: list[Change]

    @property
    def verdict(self) -> Verdict:
        if self.executable:
            return "executable"
        return "prose" if self.prose else "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "old": {"file": self.old_file, "lang": self.old_lang},
            "new": {"file": self.new_file, "lang": self.new_lang},
            "executable": [c.to_dict() for c in self.executable],
            "prose": [c.to_dict() for c in self.prose],
        }

    def verdict_line(self) -> str:
        if self.executable:
            return f"executable drift: {len(self.executable)} change(s)"
        return f"no executable drift ({len(self.prose)} prose change(s))"


# -- entry point -------------------------------------------------------------------------------


def compare(old: Graph, new: Graph) -> Report:
    """Every difference between ``old`` and ``new``, executable first, each with both places."""
    return _Comparison(old, new).run()


# -- helpers -----------------------------------------------------------------------------------

_Line = tuple[str, int]
"""A line of text and its line number in its file."""

T = TypeVar("T")


def pair(old: Sequence[T], new: Sequence[T], key: Callable[[T], Any],
         kind: Callable[[T], Any] | None = None) -> list[tuple[int | None, int | None]]:
    """Align two sequences: equal keys first (difflib), then, inside replaced runs, same kinds."""
    out: list[tuple[int | None, int | None]] = []
    sm = difflib.SequenceMatcher(None, [key(x) for x in old], [key(x) for x in new], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            out.extend(zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        if kind is None:
            old_kinds: list[Any] = [0] * (i2 - i1)
            new_kinds: list[Any] = [0] * (j2 - j1)
        else:
            old_kinds = [kind(x) for x in old[i1:i2]]
            new_kinds = [kind(x) for x in new[j1:j2]]
        inner = difflib.SequenceMatcher(None, old_kinds, new_kinds, autojunk=False)
        for t2, a1, a2, b1, b2 in inner.get_opcodes():
            if t2 == "equal":
                out.extend(zip(range(i1 + a1, i1 + a2), range(j1 + b1, j1 + b2), strict=True))
            elif t2 == "replace" and kind is None:  # pragma: no cover - kinds all equal when kind is None
                out.extend(zip(range(i1 + a1, i1 + a2), range(j1 + b1, j1 + b2), strict=False))
            else:
                out.extend((i, None) for i in range(i1 + a1, i1 + a2))
                out.extend((None, j) for j in range(j1 + b1, j1 + b2))
    return out


def _text_lines(text: str | None, first_line: int) -> list[_Line]:
    """``text`` split into lines numbered from ``first_line``; trailing blanks dropped, lines rstripped."""
    if not text:
        return []
    lines = [(ln.rstrip(), first_line + i) for i, ln in enumerate(text.split("\n"))]
    while lines and not lines[-1][0]:
        lines.pop()
    return lines


def _answer(turn_answer: Any) -> str:
    if turn_answer.var is not None:
        return "${" + turn_answer.var + "}"
    return str(turn_answer.literal or "")


def _command_lines(commands: Sequence[Command], console: bool) -> list[_Line]:
    out: list[_Line] = []
    for cmd in commands:
        for k, ln in enumerate(cmd.text.split("\n")):
            out.append((("$ " if console and k == 0 else "") + ln.rstrip(), cmd.span.line + k))
        last = cmd.span.end_line
        for turn in cmd.dialog:
            out.append((f"{turn.prompt} ({_answer(turn.answer)})", turn.span.line))
            last = turn.span.end_line
        for k, ln in enumerate(cmd.output):
            out.append((ln.rstrip(), last + 1 + k))
    while out and not out[-1][0]:
        out.pop()
    return out


def _sql_lines(statements: Sequence[Statement]) -> list[_Line]:
    out: list[_Line] = []
    for st in statements:
        out.extend((ln.rstrip(), st.span.line + k) for k, ln in enumerate(st.sql.split("\n")))
    return out


def _code_lines(action: Action) -> list[_Line]:
    """What an action types, line by line (shell, console, SQL; comments excluded)."""
    if action.kind == "sql":
        return _sql_lines(action.statements)
    return _command_lines(action.commands, action.kind == "console")


def _unified(old: list[_Line], new: list[_Line]) -> list[str]:
    """A unified diff whose hunk headers give file lines, ``@@ -OLD_LINE +NEW_LINE @@`` (the change's
    report line names the two files)."""
    a = [t for t, _ in old]
    b = [t for t, _ in new]
    out: list[str] = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in sm.get_grouped_opcodes(1):
        i1, j1 = group[0][1], group[0][3]
        lo = old[i1][1] if i1 < len(old) else (old[-1][1] + 1 if old else 0)
        ln = new[j1][1] if j1 < len(new) else (new[-1][1] + 1 if new else 0)
        out.append(f"@@ -{lo} +{ln} @@")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out.extend(" " + t for t in a[x1:x2])
                continue
            out.extend("-" + t for t in a[x1:x2])
            out.extend("+" + t for t in b[y1:y2])
    return out


def _first_difference(old: list[_Line], new: list[_Line], old_default: int, new_default: int) -> tuple[int, int]:
    """Line numbers, in each file, of the first line that differs."""
    sm = difflib.SequenceMatcher(None, [t for t, _ in old], [t for t, _ in new], autojunk=False)
    for tag, i1, _i2, j1, _j2 in sm.get_opcodes():
        if tag == "equal":
            continue

        def at(lines: list[_Line], i: int, default: int) -> int:
            if i < len(lines):
                return lines[i][1]
            return lines[-1][1] + 1 if lines else default

        return at(old, i1, old_default), at(new, j1, new_default)
    return old_default, new_default


def _expected_key(exp: Expected | None, same_lang: bool) -> Any:
    """What an expected output means (not how it is spaced)."""
    if exp is None:
        return None
    error: Any = exp.error
    if error is not None and not same_lang:
        # psql messages may be shown translated; compare what does not depend on the language.
        error = {k: v for k, v in error.items() if k in ("severity", "sqlstate")}
    if exp.kind == "text":
        return ("text", tuple(ln.strip() for ln in exp.lines if ln.strip()))
    return (exp.kind, tuple(exp.columns), tuple(tuple(r) for r in exp.rows), exp.row_count, exp.tag,
            tuple(sorted((error or {}).items())))


_LANG_SEGMENT = r"(?<=[./_\-=]){lang}(?=[./_\-#?]|$)"


def _normalise_link(link: str, lang: str) -> str:
    """A link target with its language segment (``doc_base_url.ja``, ``/ja/``) made neutral."""
    if not lang:
        return link
    return re.sub(_LANG_SEGMENT.format(lang=re.escape(lang)), "{lang}", link)


# -- the comparison ----------------------------------------------------------------------------


class _Comparison:
    def __init__(self, old: Graph, new: Graph) -> None:
        self.old = old
        self.new = new
        self.of = old.source.file
        self.nf = new.source.file
        self.same_lang = old.source.lang == new.source.lang
        self.changes: list[Change] = []
        secrets = {s for s in old.secrets() + new.secrets() if len(s) >= 2}
        self.secrets = sorted(secrets, key=len, reverse=True)
        self.renamed_vars: list[tuple[str, str]] = []

    # -- output helpers -----------------------------------------------------------------------
    def mask(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "********")
        return text

    def where_old(self, line: int, absent: bool = False) -> Where:
        return Where(self.of, line, absent)

    def where_new(self, line: int, absent: bool = False) -> Where:
        return Where(self.nf, line, absent)

    def add(self, change: Change) -> None:
        change.summary = self.mask(change.summary)
        change.diff = [self.mask(d) for d in change.diff]
        change.details = _mask_values(change.details, self.mask)
        self.changes.append(change)

    def run(self) -> Report:
        self.hosts()
        self.variables()
        self.steps()
        self.graph_prose()
        executable = [c for c in self.changes if c.executable]
        prose = [c for c in self.changes if not c.executable]
        order = list(SECTIONS)
        executable.sort(key=lambda c: order.index(c.kind))
        prose.sort(key=lambda c: order.index(c.kind))
        return Report(self.of, self.nf, self.old.source.lang, self.new.source.lang, executable, prose)

    # -- hosts and variables ------------------------------------------------------------------
    def hosts(self) -> None:
        old = {h.id: h for h in self.old.hosts}
        new = {h.id: h for h in self.new.hosts}
        first_new = self.new.hosts[0].span.line if self.new.hosts else 1
        first_old = self.old.hosts[0].span.line if self.old.hosts else 1
        for hid, h in old.items():
            if hid not in new:
                self.add(Change("host", f"host {hid} removed", self.where_old(h.span.line),
                                self.where_new(first_new, absent=True), details={"host": hid, "change": "removed"}))
        for hid, h in new.items():
            if hid not in old:
                self.add(Change("host", f"host {hid} added", self.where_old(first_old, absent=True),
                                self.where_new(h.span.line), details={"host": hid, "change": "added"}))
                continue
            o = old[hid]
            for name in ("address", "os"):
                a, b = getattr(o, name), getattr(h, name)
                if a != b:
                    self.add(Change("host", f"host {hid}: {name} {a} → {b}", self.where_old(o.span.line),
                                    self.where_new(h.span.line),
                                    details={"host": hid, "field": name, "old": a, "new": b}))
        old_groups = {g.id: g.members for g in self.old.groups}
        new_groups = {g.id: g.members for g in self.new.groups}
        for gid in sorted(set(old_groups) | set(new_groups)):
            a, b = old_groups.get(gid), new_groups.get(gid)
            if a != b:
                self.add(Change("host", f"group {gid}: members {_hosts(a)} → {_hosts(b)}",
                                self.where_old(first_old), self.where_new(first_new),
                                details={"group": gid, "old": a, "new": b}))

    def variables(self) -> None:
        old = {v.name: v for v in self.old.variables}
        new = {v.name: v for v in self.new.variables}

        def line(v: Any, default: int) -> int:
            return v.span.line if v is not None and v.span is not None else default

        for name in [*old, *(n for n in new if n not in old)]:
            a, b = old.get(name), new.get(name)
            if a is not None and b is not None and a.value == b.value:
                continue
            secret = (a is not None and a.secret) or (b is not None and b.secret)
            details: dict[str, Any]
            if a is None:
                what, details = "added", {"name": name, "change": "added"}
            elif b is None:
                what, details = "removed", {"name": name, "change": "removed"}
            elif secret:
                what, details = "value changed", {"name": name, "change": "value changed", "secret": True}
            else:
                what = f"{a.value} → {b.value}"
                details = {"name": name, "change": "value changed", "old": a.value, "new": b.value}
            if a is not None and b is not None and not secret:
                self.renamed_vars.append((a.value, b.value))
            self.add(Change("variable", f"variable {name}: {what}",
                            self.where_old(line(a, 1), absent=a is None), self.where_new(line(b, 1), absent=b is None),
                            details=details))

    def explained_by_variables(self, old: str, new: str) -> bool:
        """True when ``new`` is ``old`` with changed variable values substituted (a version bump)."""
        if not self.renamed_vars:
            return False
        text = old
        for a, b in self.renamed_vars:
            text = re.sub(rf"(?<![\w.]){re.escape(a)}(?![\w])", b, text)
        return text == new

    # -- steps --------------------------------------------------------------------------------
    def steps(self) -> None:
        old_steps, new_steps = self.old.steps, self.new.steps
        new_by_id = {s.id: s for s in new_steps}
        old_by_id = {s.id: s for s in old_steps}
        matched: dict[str, str] = {s.id: s.id for s in old_steps if s.id in new_by_id}  # old id -> new id
        # Unmatched ids: the same step renamed, when its content is (nearly) the same.
        lost = [s for s in old_steps if s.id not in new_by_id]
        found = [s for s in new_steps if s.id not in old_by_id]
        candidates: list[tuple[float, int, int]] = []
        for i, a in enumerate(lost):
            for j, b in enumerate(found):
                if [x.kind for x in a.actions] != [x.kind for x in b.actions] or not a.actions:
                    continue
                ratio = difflib.SequenceMatcher(None, _step_code(a), _step_code(b), autojunk=False).ratio()
                if ratio >= RENAME_SIMILARITY:
                    candidates.append((-ratio, i, j))
        used_old: set[int] = set()
        used_new: set[int] = set()
        for _, i, j in sorted(candidates):
            if i in used_old or j in used_new:
                continue
            used_old.add(i)
            used_new.add(j)
            a, b = lost[i], found[j]
            matched[a.id] = b.id
            self.add(Change("step-renamed", f"step renamed: {a.id} → {b.id}", self.where_old(a.span.line),
                            self.where_new(b.span.line), step=b.id, details={"old_id": a.id, "new_id": b.id}))
        # Order: matched steps not on the longest common order were moved.
        old_order = [s.id for s in old_steps if s.id in matched]
        new_index = {matched[o]: o for o in old_order}
        new_order = [new_index[s.id] for s in new_steps if s.id in new_index]
        sm = difflib.SequenceMatcher(None, old_order, new_order, autojunk=False)
        in_place = {old_order[b.a + k] for b in sm.get_matching_blocks() for k in range(b.size)}
        old_pos = {s.id: n for n, s in enumerate(old_steps, 1)}
        new_pos = {s.id: n for n, s in enumerate(new_steps, 1)}
        for oid in old_order:
            if oid in in_place:
                continue
            a, b = old_by_id[oid], new_by_id[matched[oid]]
            self.add(Change("step-moved", f"step moved: position {old_pos[a.id]} → {new_pos[b.id]}",
                            self.where_old(a.span.line), self.where_new(b.span.line), step=b.id,
                            details={"old_position": old_pos[a.id], "new_position": new_pos[b.id]}))
        matched_new = set(matched.values())
        for a in old_steps:
            if a.id not in matched:
                line = self._where_missing(a, old_steps, new_steps, matched, self.nf_end())
                self.add(Change("step-removed", f"step removed ({len(a.actions)} action(s))",
                                self.where_old(a.span.line), self.where_new(line, absent=True), step=a.id,
                                details={"actions": len(a.actions)}))
        inverse = {v: k for k, v in matched.items()}
        for b in new_steps:
            if b.id not in matched_new:
                line = self._where_missing(b, new_steps, old_steps, inverse, self.of_end())
                self.add(Change("step-added", f"step added ({len(b.actions)} action(s))",
                                self.where_old(line, absent=True), self.where_new(b.span.line), step=b.id,
                                details={"actions": len(b.actions)}))
        for oid, nid in matched.items():
            self.step(old_by_id[oid], new_by_id[nid])

    def of_end(self) -> int:
        return max(self.old.source.lines, 1)

    def nf_end(self) -> int:
        return max(self.new.source.lines, 1)

    @staticmethod
    def _where_missing(step: Step, mine: list[Step], theirs: list[Step], matched: dict[str, str], end: int) -> int:
        """Where, in the other file, a step missing there would be: before the next matched step."""
        theirs_by_id = {s.id: s for s in theirs}
        idx = mine.index(step)
        for s in mine[idx + 1:]:
            other = matched.get(s.id)
            if other is not None and other in theirs_by_id:
                return theirs_by_id[other].span.line
        for s in reversed(mine[:idx]):
            other = matched.get(s.id)
            if other is not None and other in theirs_by_id:
                return theirs_by_id[other].span.end_line
        return end

    def step(self, a: Step, b: Step) -> None:
        sid = b.id
        if a.tag != b.tag:
            self.add(Change("tag", f"tag {a.tag} → {b.tag}", self.where_old(a.span.line),
                            self.where_new(b.span.line), step=sid, details={"old": a.tag, "new": b.tag}))
        if self.same_lang:
            if a.title != b.title:
                self.add(Change("title", "step title changed", self.where_old(a.span.line),
                                self.where_new(b.span.line), step=sid, details={"old": a.title, "new": b.title}))
            if a.overview_title != b.overview_title:
                self.add(Change("overview-title", "overview title changed",
                                self.where_old((a.overview_span or a.span).line),
                                self.where_new((b.overview_span or b.span).line), step=sid,
                                details={"old": a.overview_title, "new": b.overview_title}))
        self.prose(a.prose, b.prose, sid, a.span.line, b.span.line)
        self.actions(a, b)

    # -- actions ------------------------------------------------------------------------------
    def actions(self, a: Step, b: Step) -> None:
        def key(x: Action) -> Any:
            return (x.kind, tuple(t for t, _ in _code_lines(x)), x.path, _strip(x.before), _strip(x.after))

        pairs = pair(a.actions, b.actions, key, kind=lambda x: x.kind)
        for i, j in pairs:
            if i is not None and j is not None:
                self.action(a.actions[i], b.actions[j], b.id)
        for pos, (i, j) in enumerate(pairs):
            if j is None and i is not None:
                x = a.actions[i]
                line = _absent_line(pairs, pos, b.actions, 1, b.span.end_line)
                self.add(Change("action-removed", f"{x.kind} block removed ({_hosts(x.targets)})",
                                self.where_old(x.span.line), self.where_new(line, absent=True), step=b.id,
                                action=x.id, diff=_unified(_action_lines(x), []),
                                details={"kind": x.kind, "targets": x.targets}))
            elif i is None and j is not None:
                y = b.actions[j]
                line = _absent_line(pairs, pos, a.actions, 0, a.span.end_line)
                self.add(Change("action-added", f"{y.kind} block added ({_hosts(y.targets)})",
                                self.where_old(line, absent=True), self.where_new(y.span.line), step=b.id,
                                action=y.id, diff=_unified([], _action_lines(y)),
                                details={"kind": y.kind, "targets": y.targets}))

    def action(self, x: Action, y: Action, sid: str) -> None:
        aid = y.id
        if sorted(x.targets) != sorted(y.targets):
            self.add(Change("targets", f"targets changed: {_hosts(x.targets)} → {_hosts(y.targets)}",
                            self.where_old(x.span.line), self.where_new(y.span.line), step=sid, action=aid,
                            details={"old": x.targets, "new": y.targets,
                                     "old_source": x.target_source, "new_source": y.target_source}))
        if x.kind in ("shell", "console", "sql"):
            self.text_change("command", "command(s) changed", _code_lines(x), _code_lines(y), x, y, sid)
        if x.kind == "sql":
            self.expected(x, y, sid)
        if x.kind in ("file_edit", "file_write"):
            kind = "edit" if x.kind == "file_edit" else "write"
            if x.path != y.path:
                summary = f"file path changed: {x.path} → {y.path}"
                details: dict[str, Any] = {"field": "path", "old": x.path, "new": y.path}
                if self.explained_by_variables(x.path or "", y.path or ""):
                    details["follows_variables"] = True
                    summary += " (follows the variable change)"
                self.add(Change(kind, summary, self.where_old((x.path_span or x.span).line),
                                self.where_new((y.path_span or y.span).line), step=sid, action=aid,
                                details=details))
            if x.kind == "file_edit":
                self.text_change("edit", f"before text changed ({y.path})",
                                 _text_lines(x.before, (x.before_span or x.span).line + 1),
                                 _text_lines(y.before, (y.before_span or y.span).line + 1), x, y, sid,
                                 {"field": "before", "path": y.path})
                self.text_change("edit", f"after text changed ({y.path})",
                                 _text_lines(x.after, (x.after_span or x.span).line + 1),
                                 _text_lines(y.after, (y.after_span or y.span).line + 1), x, y, sid,
                                 {"field": "after", "path": y.path})
            else:
                self.text_change("write", f"file content changed ({y.path})",
                                 _text_lines(x.code, x.span.line + 1), _text_lines(y.code, y.span.line + 1),
                                 x, y, sid, {"field": "content", "path": y.path})

    def text_change(self, kind: str, summary: str, old: list[_Line], new: list[_Line], x: Action, y: Action,
                    sid: str, details: dict[str, Any] | None = None) -> None:
        if [t for t, _ in old] == [t for t, _ in new]:
            return
        lo, ln = _first_difference(old, new, x.span.line, y.span.line)
        details = dict(details or {})
        old_text = "\n".join(t for t, _ in old)
        new_text = "\n".join(t for t, _ in new)
        if self.explained_by_variables(old_text, new_text):
            details["follows_variables"] = True
            summary += " (follows the variable change)"
        self.add(Change(kind, summary, self.where_old(lo), self.where_new(ln), step=sid, action=y.id,
                        diff=_unified(old, new), details=details))

    def expected(self, x: Action, y: Action, sid: str) -> None:
        pairs = pair(x.statements, y.statements, key=lambda s: s.sql.strip())
        for i, j in pairs:
            if i is None or j is None:
                continue  # the statement itself changed: reported as a command change
            a, b = x.statements[i], y.statements[j]
            if _expected_key(a.expected, self.same_lang) == _expected_key(b.expected, self.same_lang):
                continue
            old_lines = _expected_lines(a.expected)
            new_lines = _expected_lines(b.expected)
            lo = a.expected.span.line if a.expected else a.span.end_line
            ln = b.expected.span.line if b.expected else b.span.end_line
            if a.expected is None:
                what = "expected output added"
            elif b.expected is None:
                what = "expected output removed"
            else:
                what = "expected output changed"
            self.add(Change("expected", f"{what}: {_first_line(b.sql)}", self.where_old(lo, a.expected is None),
                            self.where_new(ln, b.expected is None), step=sid, action=y.id,
                            diff=_unified(old_lines, new_lines),
                            details={"statement": b.sql,
                                     "old_kind": a.expected.kind if a.expected else None,
                                     "new_kind": b.expected.kind if b.expected else None}))

    # -- prose --------------------------------------------------------------------------------
    def prose(self, all_old: list[Prose], all_new: list[Prose], sid: str | None, old_default: int,
              new_default: int) -> None:
        old = [p for p in all_old if p.role not in _PROSE_ROLES_SKIPPED]
        new = [p for p in all_new if p.role not in _PROSE_ROLES_SKIPPED]
        if self.same_lang:
            pairs = pair(old, new, key=lambda p: (p.role, p.text))
            for pos, (i, j) in enumerate(pairs):
                a = old[i] if i is not None else None
                b = new[j] if j is not None else None
                if a is not None and b is not None and a.text == b.text:
                    continue
                what = "changed" if a and b else "removed" if a else "added"
                lo = a.span.line if a else _absent_line(pairs, pos, old, 0, old_default)
                ln = b.span.line if b else _absent_line(pairs, pos, new, 1, new_default)
                role = a.role if a is not None else b.role if b is not None else "paragraph"
                self.add(Change("paragraph", f"{role} {what}", self.where_old(lo, a is None),
                                self.where_new(ln, b is None), step=sid,
                                diff=_word_diff(a.text if a else "", b.text if b else ""),
                                details={"role": role, "old": a.text if a else None, "new": b.text if b else None}))
        self.links(all_old, all_new, sid, old_default, new_default)

    def links(self, old: list[Prose], new: list[Prose], sid: str | None, old_default: int, new_default: int) -> None:
        def norm(link: str, lang: str) -> str:
            return link if self.same_lang else _normalise_link(link, lang)

        old_links = [(norm(k, self.old.source.lang), k, p.span.line) for p in old for k in p.links]
        new_links = [(norm(k, self.new.source.lang), k, p.span.line) for p in new for k in p.links]
        remaining = list(new_links)
        removed: list[tuple[str, str, int]] = []
        for item in old_links:
            hit = next((n for n in remaining if n[0] == item[0]), None)
            if hit is None:
                removed.append(item)
            else:
                remaining.remove(hit)
        added = remaining
        for k in range(max(len(removed), len(added))):
            r = removed[k] if k < len(removed) else None
            n = added[k] if k < len(added) else None
            lo = r[2] if r else (old_links[0][2] if old_links else old_default)
            ln = n[2] if n else (new_links[0][2] if new_links else new_default)
            if r and n:
                summary = f"link target changed: {r[1]} → {n[1]}"
            elif r:
                summary = f"link removed: {r[1]}"
            else:
                summary = f"link added: {n[1] if n else ''}"
            self.add(Change("link", summary, self.where_old(lo, r is None), self.where_new(ln, n is None), step=sid,
                            details={"old": r[1] if r else None, "new": n[1] if n else None}))

    def graph_prose(self) -> None:
        if self.same_lang and self.old.source.title != self.new.source.title:
            self.add(Change("guide-title", "guide title changed", self.where_old(1), self.where_new(1),
                            details={"old": self.old.source.title, "new": self.new.source.title}))
        self.prose(self.old.prose, self.new.prose, None, 1, 1)


# -- small helpers -----------------------------------------------------------------------------


def _strip(text: str | None) -> str | None:
    if text is None:
        return None
    return "\n".join(ln.rstrip() for ln in text.rstrip().split("\n"))


def _hosts(hosts: Iterable[str] | None) -> str:
    if hosts is None:
        return "(none)"
    return ", ".join(hosts) or "(none)"


def _first_line(text: str) -> str:
    first = text.strip().split("\n")[0]
    return first if len(first) <= 60 else first[:57] + "..."


def _step_code(step: Step) -> str:
    parts: list[str] = []
    for a in step.actions:
        parts.extend(t for t, _ in _code_lines(a))
        parts.extend(x for x in (a.path, a.before, a.after) if x)
    return "\n".join(parts)


def _action_lines(action: Action) -> list[_Line]:
    if action.kind in ("file_edit", "file_write"):
        return _text_lines(action.after or action.code, action.span.line + 1)
    return _code_lines(action)


def _expected_lines(exp: Expected | None) -> list[_Line]:
    if exp is None:
        return []
    return [(ln.rstrip(), exp.span.line + k) for k, ln in enumerate(exp.lines)]


class _Spanned(Protocol):
    span: Span


def _absent_line(pairs: list[tuple[int | None, int | None]], pos: int, items: Sequence[_Spanned], side: int,
                 default: int) -> int:
    """Where a thing missing on ``side`` (0 old, 1 new) would be: at the next thing that side has."""
    for p in pairs[pos + 1:]:
        k = p[side]
        if k is not None:
            return items[k].span.line
    for p in reversed(pairs[:pos]):
        k = p[side]
        if k is not None:
            return items[k].span.end_line
    return default


def _word_diff(old: str, new: str) -> list[str]:
    out: list[str] = []
    if old:
        out.append("- " + old)
    if new:
        out.append("+ " + new)
    return out


def _mask_values(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_mask_values(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: _mask_values(v, mask) for k, v in value.items()}
    return value


# -- rendering ---------------------------------------------------------------------------------


def render(report: Report, color: bool = False) -> str:
    """The human report: grouped sections, one line per change, diffs indented, a verdict line."""
    out: list[str] = []

    def paint(line: str) -> str:
        if not color:
            return line
        if line.startswith("+") and not line.startswith("+++"):
            return f"\x1b[32m{line}\x1b[0m"
        if line.startswith("-") and not line.startswith("---"):
            return f"\x1b[31m{line}\x1b[0m"
        if line.startswith("@@"):
            return f"\x1b[36m{line}\x1b[0m"
        return line

    for title, changes in (("Executable changes", report.executable), ("Prose changes", report.prose)):
        if not changes:
            continue
        out.append(f"== {title} ==")
        section = None
        for c in changes:
            if SECTIONS[c.kind] != section:
                section = SECTIONS[c.kind]
                out.append("")
                out.append(f"{section}:")
            old = str(c.old) if c.old else "-"
            new = str(c.new) if c.new else "-"
            out.append(f"  {old} → {new}  {c.action or c.step or '(guide)'}  {c.summary}")
            out.extend("      " + paint(d) for d in c.diff)
        out.append("")
    out.append(report.verdict_line())
    return "\n".join(out) + "\n"
