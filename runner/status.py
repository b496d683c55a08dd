"""What a run's results can say: the statuses of steps, actions, checks, runs, pages and sites, and
the other enumerations of the runner's schemas (``runner/schema/*.json``).

Each is a ``StrEnum``: a member equals its string (``Status.PASSED == "passed"``) and is written as
it in JSON, so reports read the same.  ``tests/test_typed_results.py`` checks every ``enum`` of the
schemas against these.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A step's or an action's status (an action is never ``interrupted``: its step is)."""

    PASSED = "passed"
    FAILED = "failed"
    BLOCKED = "blocked"
    NOT_RUN = "not-run"
    SKIPPED = "skipped"
    ALREADY_APPLIED = "already-applied"
    DONE_EARLIER = "done-earlier"
    INTERRUPTED = "interrupted"
    UPDATED = "updated"
    """Failed, and its expected output rewritten by ``--update-expected``."""


class CheckStatus(StrEnum):
    PASSED = "passed"
    VOLATILE = "volatile"
    """Passed; values that differ from run to run differed."""
    FAILED = "failed"
    UPDATED = "updated"


class RunStatus(StrEnum):
    """A guide's run as a whole."""

    PASSED = "passed"
    FAILED = "failed"
    BLOCKED = "blocked"
    INTERRUPTED = "interrupted"


class PageStatus(StrEnum):
    """A page of a site's run."""

    PASSED = "passed"
    FAILED = "failed"
    BLOCKED = "blocked"
    INVALID = "invalid"
    NOT_EXECUTABLE = "not-executable"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


class SiteStatus(StrEnum):
    """A site's run as a whole."""

    PASSED = "passed"
    FAILED = "failed"
    BLOCKED = "blocked"
    INVALID = "invalid"
    INTERRUPTED = "interrupted"


class ServerEventKind(StrEnum):
    """What happened to a site's example server (the site report's ``server_events``)."""

    RECOVERED = "recovered"
    """PostgreSQL restarted its processes after a crash."""
    RESTARTED = "restarted"
    """The runner restarted the cluster: its postmaster was gone."""
    STOPPED = "stopped"
    """It did not come back: the pages still to run failed."""


class TargetKind(StrEnum):
    """Where an inventory's host runs (``runner/schema/inventory.schema.json``)."""

    SANDBOX = "sandbox"
    SSH = "ssh"
    LOCAL = "local"


class SubstitutionKind(StrEnum):
    """What the plan does with a command or an edit a target cannot run as written."""

    REPLACE = "replace"
    SKIP = "skip"
    BLOCK = "block"
