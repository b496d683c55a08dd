"""The project's one root error type and the documented exit statuses."""

from __future__ import annotations

from .model import Finding

# Exit statuses of every ``runbook`` command (docs/cli.md lists them).
EXIT_OK = 0
"""Everything passed (lint: no error finding; drift: no executable drift)."""
EXIT_FAILED = 1
"""A check failed, a lint error was found, or executable content drifted."""
EXIT_USAGE = 2
"""The command line was wrong (unknown option, missing file)."""
EXIT_BLOCKED = 3
"""The environment lacks what a step needs (e.g. PGroonga is not installed)."""
EXIT_INVALID = 4
"""The input cannot be read: not a guide, not UTF-8, unclosed fence, graph fails its schema …"""
EXIT_INTERNAL = 5
"""A bug in runbook itself."""


class RunbookError(Exception):
    """Root of every error runbook reports to a user (never shown as a traceback)."""

    exit_status = EXIT_INVALID

    def __init__(self, message: str, findings: list[Finding] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.findings = findings or []

    def format(self) -> str:
        if not self.findings:
            return self.message
        return "\n".join(f.format() for f in self.findings)


class GuideError(RunbookError):
    """The guide cannot be turned into a step graph; ``findings`` says where and why."""


class SchemaError(RunbookError):
    """A step graph (or report) does not satisfy its JSON Schema."""


class EnvironmentLimit(RunbookError):
    """The environment lacks what the run needs (a server that cannot start, a missing program):
    not the input's fault."""

    exit_status = EXIT_BLOCKED


class UsageError(RunbookError):
    exit_status = EXIT_USAGE
