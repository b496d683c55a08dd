"""The HTML report of a run: one self-contained page (inline style and script, nothing fetched).

The page speaks the guide's language (the words are data: ``runner/data/html/strings.toml``). It
shows the summary figures, every step with its status, and for each check the expected and the
actual result side by side, cells that differ marked ``diff`` and volatile cells marked
``volatile``; each host's transcript is folded in a ``<details>``. Every piece of text goes
through the run's masker before it is escaped, so no secret reaches the page.
"""

from __future__ import annotations

import html
import tomllib
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from runbook.kinds import ActionKind, ExpectedKind
from runbook.model import Output
from runbook.psql_output import parse_output

from ..running.compare import cell_status, normalize_volatile
from ..running.results import ActionResult, CheckResult, RunResult, StepResult
from ..status import CheckStatus, Status

Mask = Callable[[str], str]


@cache
def asset(name: str) -> str:
    return (resources.files("runner") / "data" / "html" / name).read_text(encoding="utf-8")


@cache
def strings(lang: str) -> dict[str, Any]:
    """The report's words in ``lang`` (English when the language has no table)."""
    tables: dict[str, dict[str, Any]] = tomllib.loads(asset("strings.toml"))
    return tables.get(lang) or tables["en"]


class _Page:
    """Builds the page's HTML for one run; ``t`` holds the words, ``esc`` masks then escapes."""

    def __init__(self, lang: str, mask: Mask) -> None:
        self.t = strings(lang)
        self.mask = mask
        self.accepted = False
        """The check being drawn passed: its differing cells were accepted (volatile)."""

    def esc(self, text: object) -> str:
        return html.escape(self.mask(str(text)), quote=True)

    def status(self, status: str) -> str:
        name = self.t["status_names"].get(status, status)
        return f'<span class="badge {self.esc(status)}" data-status="{self.esc(status)}">{self.esc(name)}</span>'

    # -- the whole page -------------------------------------------------------------------
    def body(self, result: RunResult, title: str, transcripts: Path | None) -> str:
        t = self.t
        parts = [f"<header><h1>{self.esc(title or result.guide)} {self.status(result.status)}</h1>",
                 f'<p class="meta">{self.esc(t["report"])} · <b>{self.esc(t["guide"])}</b> '
                 f'<code>{self.esc(result.guide)}</code> · <b>{self.esc(t["target"])}</b> {self.esc(result.target)}'
                 f' · <b>{self.esc(t["duration"])}</b> {result.duration:.1f}s</p></header>',
                 self.figures(result)]
        if result.blocked:
            items = "".join(f"<li><code>{self.esc(k)}</code>: {self.esc(v)}</li>" for k, v in result.blocked.items())
            parts.append(f'<div class="blocked-list"><b>{self.esc(t["blocked"])}</b><ul>{items}</ul></div>')
        parts.append(f'<div class="toolbar"><label><input type="checkbox" id="only-failures"> '
                     f'{self.esc(t["only_failures"])}</label></div>')
        parts.append(f'<p class="legend">{self.esc(t["legend"])}<span class="diff">{self.esc(t["legend_diff"])}'
                     f'</span><span class="volatile">{self.esc(t["legend_volatile"])}</span></p>')
        parts += [self.step(result.guide, s) for s in result.steps]
        parts.append(self.transcripts(transcripts))
        parts.append(f'<footer>{self.esc(t["generated"])}</footer>')
        return "\n".join(parts)

    def figures(self, result: RunResult) -> str:
        t = self.t
        counts: dict[str, int] = {}
        for s in result.steps:
            counts[s.status] = counts.get(s.status, 0) + 1
        checks = [c for s in result.steps for a in s.actions for c in a.checks]
        failed_checks = sum(c.status == CheckStatus.FAILED for c in checks)
        steps = " · ".join(f"{n} {t['status_names'].get(k, k)}" for k, n in sorted(counts.items()))
        figs = [(str(len(result.steps)), t["steps"], steps, "steps", result.status),
                (str(len(checks)), t["checks"],
                 " · ".join(f"{n} {t['status_names'].get(k, k)}" for k, n in
                            sorted({c.status: sum(x.status == c.status for x in checks) for c in checks}.items())),
                 "checks", "failed" if failed_checks else "passed"),
                (str(sum(len(s.actions) for s in result.steps)), t["actions"], "", "actions", ""),
                (f"{result.duration:.1f}s", t["duration"], "", "duration", "")]
        out = []
        for n, label, sub, key, cls in figs:
            out.append(f'<div class="figure" data-figure="{key}"><div class="n {cls}">{self.esc(n)}</div>'
                       f'<div class="label">{self.esc(label)}</div><div class="label">{self.esc(sub)}</div></div>')
        return '<div class="figures">' + "".join(out) + "</div>"

    # -- a step, its actions, their checks ---------------------------------------------------
    def step(self, guide: str, s: StepResult) -> str:
        """A step: its heading is always shown; its actions are folded unless it failed or is blocked."""
        number = f"{s.number}. " if s.number else ""
        tag = f" <span class=\"where\">[{self.esc(s.tag)}]</span>" if s.tag else ""
        opened = " open" if s.status in (Status.FAILED, Status.BLOCKED) else ""
        reason = f' <span class="reason">{self.esc(s.reason)}</span>' if s.reason and s.status != Status.PASSED else ""
        parts = [f'<section class="step {self.esc(s.status)}" id="step-{self.esc(s.id)}" '
                 f'data-status="{self.esc(s.status)}"><details{opened}><summary>',
                 f"<h2>{self.status(s.status)} {self.esc(number)}{self.esc(s.title)}{tag}"
                 f'<span class="where"><code>{self.esc(s.id)}</code> · {self.esc(guide)}:{s.line} · '
                 f"{s.duration:.1f}s</span>{reason}</h2></summary>"]
        parts += [self.action(a) for a in s.actions if a.status != Status.NOT_RUN or s.status == Status.NOT_RUN]
        parts.append("</details></section>")
        return "\n".join(parts)

    def action(self, a: ActionResult) -> str:
        t = self.t
        parts = [f'<div class="action {self.esc(a.status)}" data-action="{self.esc(a.action)}">'
                 f'<div class="action-head"><span class="mono">{self.esc(a.action)}</span>'
                 f'<span>{self.esc(t["host"])}: <b>{self.esc(a.host)}</b></span><span>{self.esc(a.kind)}</span>'
                 f'{self.status(a.status)}<span class="where">line {a.line} · {a.duration:.2f}s</span></div>']
        if a.message and a.status != Status.PASSED:
            parts.append(f'<p class="action-message {self.esc(a.status)}">{self.esc(a.message)}</p>')
        parts += [self.check(c, a) for c in a.checks]
        if a.details:
            opened = " open" if a.status == Status.FAILED else ""
            parts.append(f'<details class="output"{opened}><summary>{self.esc(t["details"])}</summary>'
                         f"<pre>{self.esc(a.details)}</pre></details>")
        if a.substitutions:
            items = "".join(f"<li>line {self.esc(x.get('line', ''))}: <code>{self.esc(x.get('command', ''))}</code>"
                            f" — {self.esc(x.get('reason', ''))}</li>" for x in a.substitutions)
            parts.append(f'<details class="substitutions"><summary>{self.esc(t["substitutions"])}</summary>'
                         f"<ul>{items}</ul></details>")
        parts.append("</div>")
        return "\n".join(parts)

    def check(self, c: CheckResult, a: ActionResult) -> str:
        t = self.t
        self.accepted = c.status != CheckStatus.FAILED  # what differs in a check that passed was accepted as volatile
        if a.kind == ActionKind.SQL:
            left, right = self._sql_sides(c)
        else:
            left, right = self._console_sides(c)
        expected_line = c.expected_span[0] if c.expected_span else c.line
        opened = " open" if c.status == CheckStatus.FAILED else ""
        tries = " · " + t["tries"].format(n=c.tries) if c.tries > 1 else ""
        first = c.statement.strip().splitlines()[0] if c.statement.strip() else ""
        parts = [f'<details class="check {self.esc(c.status)}" data-line="{c.line}"{opened}>'
                 f'<summary>{self.status(c.status)} <code>{self.esc(first)}</code>'
                 f' <span class="where">line {c.line}{self.esc(tries)}</span></summary>',
                 f'<div class="statement"><h4>{self.esc(t["statement"].format(line=c.line))}</h4>'
                 f"<pre>{self.esc(c.statement)}</pre></div>",
                 '<div class="sides">'
                 f'<div class="side expected"><h4>{self.esc(t["expected"].format(line=expected_line))}</h4>{left}</div>'
                 f'<div class="side actual"><h4>{self.esc(t["actual"].format(host=a.host))}</h4>{right}</div></div>']
        if c.problems:
            items = "".join(f"<li>{self.esc(p)}</li>" for p in c.problems)
            parts.append(f'<b>{self.esc(t["problems"])}</b><ul class="problems">{items}</ul>')
        if c.volatile:
            items = "".join(f"<li>{self.esc(v)}</li>" for v in c.volatile)
            parts.append(f'<b>{self.esc(t["volatile_note"])}</b><ul class="problems volatile-notes">{items}</ul>')
        parts.append("</details>")
        return "\n".join(parts)

    # -- the two sides of a check -------------------------------------------------------------
    def _sql_sides(self, c: CheckResult) -> tuple[str, str]:
        exp, act = parse_output(c.expected), parse_output(c.actual)
        if exp.kind == ExpectedKind.TABLE and act.kind == ExpectedKind.TABLE:
            return self._tables(exp, act)
        e_lines = [x.strip() for x in c.expected if x.strip()]
        a_lines = [x.strip() for x in c.actual if x.strip()]
        marks = [cell_status(e, a)[0] if a is not None and e is not None else "diff"
                 for e, a in _pairs(e_lines, a_lines)]
        return (self._lines(e_lines, marks[: len(e_lines)]), self._lines(a_lines, marks[: len(a_lines)]))

    def _tables(self, exp: Output, act: Output) -> tuple[str, str]:
        head = [cell_status(e, a)[0] if e is not None and a is not None else "diff"
                for e, a in _pairs(exp.columns, act.columns)]
        rows: list[list[str]] = []
        for er, ar in _pairs(exp.rows, act.rows):
            er, ar = er or [], ar or []
            rows.append([cell_status(e, a)[0] if e is not None and a is not None else "diff"
                         for e, a in _pairs(er, ar)])
        count = "same" if exp.row_count == act.row_count else "diff"
        return (self._table(exp, head, rows, count), self._table(act, head, rows, count))

    def _table(self, out: Output, head: list[str], rows: list[list[str]], count: str) -> str:
        ths = "".join(f'<th class="{self._cls(head[j])}">{self.esc(col)}</th>' for j, col in enumerate(out.columns))
        trs = []
        for i, row in enumerate(out.rows):
            trs.append("<tr>" + "".join(f'<td class="{self._cls(rows[i][j])}">{self.esc(cell)}</td>'
                                        for j, cell in enumerate(row)) + "</tr>")
        n = out.row_count
        footer = f'<div class="rowcount {self._cls(count)}">({n} {"row" if n == 1 else "rows"})</div>' \
            if n is not None else ""
        return f'<table class="result"><thead><tr>{ths}</tr></thead><tbody>{"".join(trs)}</tbody></table>{footer}'

    def _console_sides(self, c: CheckResult) -> tuple[str, str]:
        """A console check passes when each line the guide shows appears in the output: mark each
        expected line, and the output lines it matched."""
        shown = [seg.strip() for line in c.actual for seg in [line.split("\r")[-1]]]
        normal = [normalize_volatile(s)[0] for s in shown]
        e_lines = [x.strip() for x in c.expected if x.strip()]
        e_marks: list[str] = []
        a_marks = ["" for _ in shown]
        for e in e_lines:
            if e in shown:
                e_marks.append("same")
                a_marks[shown.index(e)] = "same"
                continue
            ne = normalize_volatile(e)[0]
            if ne != e and ne in normal:
                e_marks.append("volatile")
                a_marks[normal.index(ne)] = "volatile"
            else:
                e_marks.append("diff")
        return self._lines(e_lines, e_marks), self._lines(shown, a_marks)

    def _cls(self, mark: str) -> str:
        """The class of a marked cell or line: ``diff``, ``volatile`` or none."""
        if mark == "diff" and self.accepted:
            return "volatile"
        return mark if mark in ("diff", "volatile") else ""

    def _lines(self, lines: list[str], marks: list[str]) -> str:
        return '<div class="lines">' + "".join(
            f'<div class="{self._cls(m)}">{self.esc(x)}</div>' for x, m in zip(lines, marks, strict=False)) + "</div>"

    # -- transcripts --------------------------------------------------------------------------
    def transcripts(self, folder: Path | None) -> str:
        t = self.t
        files = sorted(folder.glob("*.log")) if folder is not None and folder.is_dir() else []
        if not files:
            return f'<h3>{self.esc(t["transcripts"])}</h3><p class="missing">{self.esc(t["no_transcript"])}</p>'
        items = [f'<details class="transcript" data-host="{self.esc(f.stem)}"><summary>{self.esc(f.stem)}'
                 f"</summary><pre>{self.esc(f.read_text(encoding='utf-8', errors='replace'))}</pre></details>"
                 for f in files]
        return f'<h3>{self.esc(t["transcripts"])}</h3>' + "\n".join(items)


def _pairs(a: list[Any], b: list[Any]) -> list[tuple[Any, Any]]:
    """Pairs by position, ``None`` where one side is shorter."""
    n = max(len(a), len(b))
    return [(a[i] if i < len(a) else None, b[i] if i < len(b) else None) for i in range(n)]


def render_html(result: RunResult, *, lang: str = "en", title: str = "", transcripts: Path | None = None,
                mask: Mask = str) -> str:
    """The whole page for ``result``; ``transcripts`` is the run's folder of ``HOST.log`` files."""
    page = _Page(lang, mask)
    t = page.t
    return Template(asset("report.html")).substitute(
        lang=html.escape(lang),
        title=page.esc(f"{title or result.guide} — {t['report']}"),
        status=html.escape(result.status),
        css=asset("report.css"),
        js=asset("report.js"),
        body=page.body(result, title, transcripts),
    )
