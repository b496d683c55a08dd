"""The ``runbook`` command line: the parser, the dispatch to sub-commands, the exit statuses.

Each sub-command is a module of this package with ``configure(parser)`` and ``main(args) -> int``,
listed in :data:`COMMANDS`; only the module of the command given is imported (start-up time).
Every :class:`RunbookError` becomes a message and a documented exit status (docs/cli.md), never a
traceback.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from runbook.errors import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, RunbookError, UsageError

DESCRIPTION = """\
Execute operations guides written for people.

runbook reads a published Markdown guide as it is (Japanese or English), turns it into a
validated step graph, runs that graph on hosts (by default an embedded sandbox of Linux
namespaces on this machine), and checks every result against what the guide says should appear.
"""

EPILOG = """\
exit statuses:
  0  passed (lint: no error; drift: no executable drift)
  1  failed: a check did not match, a command failed, lint found an error, executable drift
  2  usage error (bad command line)
  3  blocked: the environment lacks what a step needs (e.g. PGroonga is not installed)
  4  invalid input: the guide, graph or inventory cannot be read (file:line given)
  5  internal error in runbook

examples:
  runbook parse guide.md > graph.json
  runbook lint guide.md
  runbook run guide.md                  # on the embedded sandbox
  runbook run guide.md --plan           # print the bound commands per host, run nothing
  runbook drift guide.ja.md guide.en.md
  runbook export guide.md --to sh -o out/
"""

COMMANDS: dict[str, str] = {
    "parse": "print a guide's step graph as JSON",
    "schema": "print the JSON Schema of step graphs (or of run reports)",
    "lint": "list findings about a guide as file:line: rule: message",
    "run": "run a guide on hosts and check every result",
    "sandbox": "manage the embedded sandbox hosts of a guide (up, status, down)",
    "drift": "compare two revisions or translations of a guide",
    "export": "write a guide as shell scripts, an Ansible playbook or Markdown",
    "graph": "draw a guide's steps against its hosts (Mermaid or DOT)",
    "report": "merge the JSON reports of a site's shards into one report (JSON, JUnit, HTML)",
}
"""Sub-command -> its one-line help; the module ``runner.cli.<name>`` implements it (see :data:`MODULES`)."""

MODULES: dict[str, str] = {"graph": "diagram"}
"""Sub-commands whose module is named otherwise: ``runbook graph`` draws a diagram, not the step graph."""


_CHOICE_RE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)")


class _Parser(argparse.ArgumentParser):
    """Usage errors name the (sub-)command, suggest the closest choice and end with the usage line."""

    def error(self, message: str) -> Any:  # noqa: D401 - argparse API
        m = _CHOICE_RE.search(message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group("choices"))
            message += _hint(m.group("given"), choices)
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().rstrip()}")


def _hint(given: str, known: Sequence[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(given, list(known), n=1, cutoff=0.6)
    if not close and given.lower() in [k.lower() for k in known]:
        close = [k for k in known if k.lower() == given.lower()]
    return f" (did you mean {close[0]!r}?)" if close else ""


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [o for a in parser._actions for o in a.option_strings]


def _unrecognized(sub: argparse.ArgumentParser, extra: list[str]) -> UsageError:
    """The sub-command's own message for arguments it does not know, with the closest option."""
    options = [x for x in extra if x.startswith("-") and x != "-"]
    if options:
        words = [f"{x}{_hint(x.split('=')[0], _options(sub))}" for x in options]
        message = "unknown option(s): " + ", ".join(words)
    else:
        message = "unexpected argument(s): " + " ".join(extra)
    return UsageError(f"{sub.prog}: {message}; `{sub.prog} --help` lists them\n{sub.format_usage().rstrip()}")


def _verbosity(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument("-q", "--quiet", action="store_true", default=default,
                   help="print only the results and errors (no progress)")
    p.add_argument("-v", "--verbose", action="count", default=default, help="print more detail on stderr")


def version() -> str:
    """The installed package's version (its metadata, from pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("runbook")
    except PackageNotFoundError:
        return "(unknown: runbook is not installed; run scripts/setup)"


class _Version(argparse.Action):
    """``--version``: the version read from the package's metadata only when asked (start-up time)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        sys.stdout.write(f"runbook {version()}\n")
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only the module of the sub-command ``only`` is imported (start-up time):
    the other sub-commands get their one-line help, all the top-level help shows of them."""
    parser = _Parser(
        prog="runbook",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback for internal errors")
    _verbosity(parser, None)
    parser.add_argument("--version", action=_Version, help="print runbook's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text in COMMANDS.items():
        if name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(f"{__name__}.{MODULES.get(name, name)}")
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.configure(p)
        _verbosity(p, argparse.SUPPRESS)
        p.set_defaults(handler=module.main)
        parser.set_defaults(sub_parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``runbook`` command line; returns its exit status (docs/cli.md)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    command = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(command)
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise _unrecognized(getattr(args, "sub_parser", parser), extra)
        if not getattr(args, "handler", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        from runner.reports.console import set_verbosity

        set_verbosity(bool(args.quiet), args.verbose or 0)
        status: int = args.handler(args)
        return status
    except RunbookError as exc:
        from runner.untrusted import safe_lines  # a message may quote the guide: shown, not interpreted

        text = exc.format()
        if exc.exit_status == EXIT_USAGE and not text.startswith("runbook") and command in COMMANDS:
            text = f"runbook {command}: {text}"  # a usage error names the sub-command
        sys.stderr.write(safe_lines(text) + "\n")
        return exc.exit_status
    except KeyboardInterrupt:
        sys.stderr.write("runbook: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a bug: say so plainly, keep the traceback out of the user's way
        if debug:
            traceback.print_exc()
        else:
            sys.stderr.write(
                f"runbook: internal error ({type(exc).__name__}: {exc}); this is a bug in runbook, not in your "
                "guide. Run again with --debug for the traceback.\n"
            )
        return EXIT_INTERNAL


def console_main() -> None:
    """The ``runbook`` executable (pyproject's entry point)."""
    sys.exit(main())
