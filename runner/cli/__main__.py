"""``python -m runner.cli``: the ``runbook`` command."""

from runner.cli import console_main

console_main()
