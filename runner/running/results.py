"""What a run gives: a result per check, action, step and run (the reports read them), and the runner's
progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from runbook.kinds import ActionKind

from ..status import CheckStatus, RunStatus, Status

PASSED, FAILED, BLOCKED, NOT_RUN, ALREADY, DONE_EARLIER, INTERRUPTED = (
    Status.PASSED, Status.FAILED, Status.BLOCKED, Status.NOT_RUN, Status.ALREADY_APPLIED, Status.DONE_EARLIER,
    Status.INTERRUPTED)


@dataclass
class CheckResult:
    line: int
    statement: str
    status: CheckStatus
    """``passed``, ``volatile`` (passed, volatile values differed) or ``failed``."""
    expected: list[str]
    actual: list[str]
    problems: list[str] = field(default_factory=list)
    volatile: list[str] = field(default_factory=list)
    tries: int = 1
    expected_span: tuple[int, int] | None = None
    statement_span: tuple[int, int] | None = None


@dataclass
class ActionResult:
    action: str
    step: str
    kind: ActionKind
    host: str
    line: int
    status: Status
    duration: float = 0.0
    message: str = ""
    details: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    substitutions: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    soft: bool = field(default=False, metadata={"report": False})
    """Failed on an example page: its page goes on (not in the reports)."""


@dataclass
class StepResult:
    id: str
    number: int | None
    title: str
    tag: str | None
    line: int
    status: Status
    duration: float = 0.0
    actions: list[ActionResult] = field(default_factory=list)
    reason: str = ""


@dataclass
class RunResult:
    guide: str
    target: str
    status: RunStatus
    started: float
    duration: float
    steps: list[StepResult]
    blocked: dict[str, str] = field(default_factory=dict)


Progress = Callable[[str, StepResult | None, ActionResult | None], None]
