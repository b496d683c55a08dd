"""pytest plugin: each guide is a test file, each step a test item, run by the runner in document order.

Installed with the package (entry point ``pytest11``); it collects nothing unless asked::

    pytest --runbook docs/guides/            # every *.md guide (README.md aside) under the paths given
    # or, in pytest.ini / pyproject.toml:  runbook_paths = docs/guides

The plugin only maps steps to items and results to outcomes; the run is ``runbook run``'s
(:func:`runner.orchestrate.run_guide`, without reports). The guide's hosts (the embedded sandbox by
default) come up once, when its first selected step runs, and go down after its last item. A step runs when
pytest reaches its item (the runner waits for it), so ``-x`` stops the guide where pytest stops. A
failed step fails with the guide's ``file:line``, the expected-versus-actual diff and the output (no
Python traceback); the steps after it are skipped with the reason; a step the environment cannot run (PGroonga is not
installed) is skipped as *blocked*. ``-k`` selects steps as ``runbook run --only`` does: the steps
left out are not run at all.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .status import CheckStatus, Status

if TYPE_CHECKING:
    from runbook.model import Step

    from .launch import GuideRun
    from .running.results import ActionResult, RunResult, StepResult
    from .running.steps import Runner


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("runbook", "runbook: run operations guides as tests")
    group.addoption("--runbook", action="store_true",
                    help="collect Markdown guides (*.md except README.md) as tests, one test per step")
    group.addoption("--runbook-inventory", metavar="FILE",
                    help="TOML inventory of the hosts (default: the embedded sandbox); see docs/run.md")
    group.addoption("--runbook-transcripts", metavar="DIR", default="runbook-out",
                    help="folder of the hosts' transcripts (default: runbook-out/GUIDE/)")
    group.addoption("--runbook-timeout", type=float, default=120, metavar="SECONDS",
                    help="seconds a command may take (default 120)")
    group.addoption("--runbook-settle", type=float, default=20, metavar="SECONDS",
                    help="seconds a read-only check is retried until it matches (default 20)")
    parser.addini("runbook_paths", "guides (files or folders) collected as tests without --runbook",
                  type="paths", default=[])


def _roots(config: pytest.Config) -> list[Path]:
    return [Path(p) for p in config.getini("runbook_paths")]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "runbook: a step of a guide, run by the runbook plugin")
    # pytest-xdist (-n N): the steps of a guide depend on each other and share its sandbox, so every
    # step of a guide goes to the same worker (xdist's --dist loadfile: a guide is a file); each worker
    # runs its guides on sandboxes of its own
    guides = config.getoption("runbook", False) or _roots(config)
    if guides and getattr(config.option, "dist", "no") in ("load", "worksteal"):
        config.option.dist = "loadfile"
    # pytest run without paths: the guides of runbook_paths are collected besides testpaths
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args += [str(p) for p in _roots(config) if str(p) not in config.args]


def _is_guide(path: Path) -> bool:
    return path.suffix == ".md" and path.name.lower() != "readme.md"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> GuideFile | None:
    if not _is_guide(file_path):
        return None
    config = parent.config
    if config.getoption("runbook") or any(file_path == r or r in file_path.parents for r in _roots(config)):
        result: GuideFile = GuideFile.from_parent(parent, path=file_path)
        return result
    return None


class GuideFile(pytest.File):
    """A guide: its steps are the items; its run (hosts up, runner thread) lives from the first
    selected item's set-up to the file's tear-down."""

    guide_run: GuideRun | None = None
    run_result: RunResult | None = None
    feed: _Feed | None = None
    error: BaseException | None = None
    """Why the run could not start or broke (the first item affected shows it, the others skip)."""
    reported = False
    step_ids: list[str] = []

    def collect(self) -> Iterator[StepItem]:
        from runbook.load import load_graph

        graph = load_graph(self.path)
        self.step_ids = [s.id for s in graph.steps]
        for step in graph.steps:
            yield StepItem.from_parent(self, name=step.id, step=step)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        from runbook.errors import RunbookError

        if isinstance(excinfo.value, RunbookError):
            return excinfo.value.format()
        return super().repr_failure(excinfo)

    def setup(self) -> None:
        from runbook.errors import RunbookError

        from .launch import GuideRun, RunOptions

        config = self.config
        items = [i.name for i in self.session.items if isinstance(i, StepItem) and i.parent is self]
        selected = None if items == self.step_ids else items
        options = RunOptions(inventory=config.getoption("runbook_inventory"), fresh=True, keep=False,
                             transcripts=config.getoption("runbook_transcripts"),
                             timeout=config.getoption("runbook_timeout"), settle=config.getoption("runbook_settle"))
        feed = _Feed()
        try:
            self.guide_run = GuideRun(self.path, options)
            runner = self.guide_run.start(selected, feed)
        except RunbookError as exc:  # reported by the first item, without a traceback
            self.error = exc
            if self.guide_run is not None:
                self.guide_run.finish(None)
            self.guide_run = None
            return
        self.feed = feed
        self.thread = threading.Thread(target=self._run, args=(selected, runner), name=f"runbook {self.path.name}",
                                       daemon=True)
        self.thread.start()

    def _run(self, selected: list[str] | None, runner: Runner) -> None:
        """The guide's run (:func:`runner.orchestrate.run_guide`, as ``runbook run`` runs it, without
        reports) on the hosts :meth:`setup` brought up, its steps let through by the items."""
        from .orchestrate import run_guide

        assert self.guide_run is not None and self.feed is not None
        try:
            self.run_result = run_guide(self.guide_run, selected, None, progress=self.feed, signals=False,
                                        runner=runner)[1]
        except _Stopped:
            pass
        except BaseException as exc:  # shown by the items still waiting
            self.error = exc
        finally:
            self.feed.end()

    def teardown(self) -> None:
        if self.feed is not None:
            self.feed.stop()
            self.thread.join()
        if self.guide_run is not None:
            self.guide_run.finish(None)  # (run_guide brought the hosts down; here only if it never ran)
        self.guide_run = self.feed = None

    def result(self, step_id: str) -> StepResult | None:
        steps = self.run_result.steps if self.run_result is not None else self.feed.steps if self.feed else []
        return next((s for s in steps if s.id == step_id), None)


class _Stopped(Exception):
    """pytest stopped (``-x``, an interrupt): the runner ends before its next step."""


class _Feed:
    """Between pytest and the runner's thread: a step starts when its item runs; the item waits for its end."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.allowed: set[str] = set()
        self.ended: set[str] = set()
        self.over = False
        self.stopped = False
        self.steps: list[StepResult] = []
        """The steps that started (their results fill in as they run)."""

    def __call__(self, event: str, step: StepResult | None, action: ActionResult | None) -> None:
        if step is None:
            return
        with self.cond:
            if event == "step-start":
                self.steps.append(step)
                while step.id not in self.allowed and not self.stopped:
                    self.cond.wait()
                if self.stopped:
                    raise _Stopped
            elif event == "step-end":
                self.ended.add(step.id)
                self.cond.notify_all()

    def run(self, step_id: str) -> None:
        """Let the step run and wait until it ended, or the run did."""
        with self.cond:
            self.allowed.add(step_id)
            self.cond.notify_all()
            while step_id not in self.ended and not self.over:
                self.cond.wait(0.5)

    def end(self) -> None:
        with self.cond:
            self.over = True
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


def _skip(reason: str) -> None:
    """Skip the step, reported at the step's line in the guide (not at this module's)."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


class StepFailed(Exception):
    """A step failed; :meth:`StepItem.repr_failure` shows where and how."""

    def __init__(self, guide: str, step: StepResult) -> None:
        super().__init__(f"step {step.id} failed")
        self.guide = guide
        self.step = step


class StepItem(pytest.Item):
    """One step of a guide."""

    def __init__(self, *, step: Step, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step
        self.add_marker(pytest.mark.runbook)

    def runtest(self) -> None:
        guide = self.parent
        assert isinstance(guide, GuideFile)
        if guide.feed is not None:
            guide.feed.run(self.name)
        result = guide.result(self.name)
        if guide.error is not None and (result is None or result.status == Status.NOT_RUN):
            if guide.reported:
                _skip(f"not run: the run of {guide.path.name} broke or could not start")
            guide.reported = True
            raise guide.error
        assert result is not None
        if result.status == Status.FAILED:
            raise StepFailed(_shown(self.path, self.config), result)
        if result.status == Status.BLOCKED:
            _skip(f"blocked by the environment: {result.reason}")
        if result.status in (Status.NOT_RUN, Status.SKIPPED):
            _skip(result.reason or result.status)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from runbook.errors import RunbookError

        if isinstance(excinfo.value, StepFailed):
            return format_failure(excinfo.value.guide, excinfo.value.step)
        if isinstance(excinfo.value, RunbookError):
            return excinfo.value.format()
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.step.span.line - 1, f"{self.step.id}: {self.step.title}"


def _shown(path: Path, config: pytest.Config) -> str:
    """The guide's path as the user would type it (relative to where pytest was started, if inside)."""
    base = config.invocation_params.dir
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def format_failure(guide: str, step: StepResult) -> str:
    """The failure as a person reads it: the guide's file:line, what was expected, what came."""
    lines: list[str] = []
    for a in step.actions:
        if a.status != Status.FAILED:
            continue
        lines.append(f"{guide}:{a.line}: {a.action} on {a.host}: {a.message}")
        for c in a.checks:
            if c.status != CheckStatus.FAILED:
                continue
            where = c.expected_span[0] if c.expected_span else c.line
            lines.append(f"  statement ({guide}:{c.line}):")
            lines += [f"    {x}" for x in c.statement.splitlines()]
            lines += ["  " + x for x in difflib.unified_diff(c.expected, c.actual, f"expected ({guide}:{where})",
                                                              f"actual ({a.host})", lineterm="", n=len(c.expected))]
            lines += [f"  differs: {p}" for p in c.problems]
        if a.details and not a.checks:
            lines.append("  output:")
            lines += [f"    | {x}" for x in a.details.rstrip().splitlines()[-20:]]
    lines.append(f"in step {step.id} ({guide}:{step.line}): {step.title}")
    from .untrusted import safe_lines  # the guide's text and output: shown, never a workflow command

    return safe_lines("\n".join(lines))
