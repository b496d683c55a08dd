"""The ``runbook`` command line.

Each sub-command lives in a module with ``configure(parser)`` and ``main(args) -> int``; this
module wires them together, and turns every :class:`RunbookError` into a message and a documented
exit status (docs/cli.md), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runbook.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, RunbookError, UsageError

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

# name -> (module, help)
COMMANDS: dict[str, tuple[str, str]] = {
    "parse": ("runner.cli", "print a guide's step graph as JSON"),
    "schema": ("runner.cli", "print the JSON Schema of step graphs (or of run reports)"),
    "lint": ("runner.cli", "list findings about a guide as file:line: rule: message"),
    "run": ("runner.execute_cli", "run a guide on hosts and check every result"),
    "sandbox": ("runner.sandbox_cli", "manage the embedded sandbox hosts of a guide (up, status, down)"),
    "drift": ("runbook.drift_cli", "compare two revisions or translations of a guide"),
    "export": ("runner.export_cli", "write a guide as shell scripts, an Ansible playbook or Markdown"),
    "graph": ("runner.export_cli", "draw a guide's steps against its hosts (Mermaid or DOT)"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # noqa: D401 - argparse API
        raise UsageError(f"{self.prog}: {message}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that sub-command's module is imported (start-up time)."""
    parser = _Parser(
        prog="runbook",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show a traceback for internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in COMMANDS.items():
        if only in COMMANDS and name != only:
            sub.add_parser(name, help=help_text)
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        configure = getattr(module, f"configure_{name}", None) or getattr(module, "configure", None)
        if configure is None:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        configure(p)
        handler = getattr(module, f"main_{name}", None) or module.main
        p.set_defaults(handler=handler)
    return parser


# -- parse, schema, lint -----------------------------------------------------------------------


def configure_parse(p: argparse.ArgumentParser) -> None:
    p.add_argument("guide", help="the guide (Markdown) to read")
    p.add_argument("--lang", help="lexicon to read it with (default: detected from the text)")
    p.add_argument("-o", "--output", help="write the graph to this file instead of standard output")


def main_parse(args: argparse.Namespace) -> int:
    from runbook.parse import parse_file
    from runbook.validate import graph_to_json

    graph = parse_file(args.guide, args.lang)
    text = json.dumps(graph_to_json(graph), ensure_ascii=False, indent=2) + "\n"
    if args.output:
        write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def configure_schema(p: argparse.ArgumentParser) -> None:
    p.add_argument("which", nargs="?", default="graph", choices=["graph", "report"],
                   help="graph (default) or report")


def main_schema(args: argparse.Namespace) -> int:
    if args.which == "graph":
        from runbook.validate import load_schema

        schema = load_schema("graph")
    else:
        from runner.report import load_report_schema

        schema = load_report_schema()
    sys.stdout.write(json.dumps(schema, ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK


def configure_lint(p: argparse.ArgumentParser) -> None:
    p.add_argument("guide", nargs="+", help="guide(s) (Markdown) to check")
    p.add_argument("--lang", help="lexicon to read it with (default: detected)")
    p.add_argument("--json", action="store_true", help="print findings as JSON")
    p.add_argument("--disable", action="append", default=[], metavar="RULE", help="skip a rule (repeatable)")


def main_lint(args: argparse.Namespace) -> int:
    from runbook.errors import GuideError
    from runbook.lint import lint
    from runbook.load import load_graph
    from runbook.model import to_dict

    status = EXIT_OK
    all_findings = []
    for guide in args.guide:
        try:
            findings = lint(load_graph(guide, args.lang), set(args.disable))
        except GuideError as exc:
            findings = exc.findings
            status = max(status, exc.exit_status)
        all_findings.extend(findings)
        if any(f.severity == "error" for f in findings):
            status = max(status, EXIT_FAILED)
    if args.json:
        sys.stdout.write(json.dumps([to_dict(f) for f in all_findings], ensure_ascii=False, indent=2) + "\n")
    else:
        for f in all_findings:
            sys.stdout.write(f"{f.format()}  [{f.severity}]\n" if f.severity != "error" else f.format() + "\n")
        errors = sum(f.severity == "error" for f in all_findings)
        sys.stderr.write(f"{len(all_findings)} finding(s), {errors} error(s)\n")
    return status


def main(args: argparse.Namespace) -> int:  # pragma: no cover - dispatch only
    raise UsageError("no command given")


# -- helpers shared by commands ----------------------------------------------------------------


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    debug = "--debug" in argv
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        status: int = args.handler(args)
        return status
    except RunbookError as exc:
        sys.stderr.write(exc.format() + "\n")
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


main_entry = run


def console_main() -> None:
    sys.exit(run())


if __name__ == "__main__":  # pragma: no cover
    console_main()
