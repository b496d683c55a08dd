"""``runbook graph GUIDE.md``: draw a guide's steps against its hosts (Mermaid or DOT)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.errors import EXIT_OK
from runbook.export import GRAPH_FORMATS
from runbook.export.graph import render_graph
from runbook.load import load_graph

from .files import write_files


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("guide", help="the guide (Markdown or a step graph as JSON)")
    p.add_argument("--format", default="mermaid", choices=GRAPH_FORMATS, help="mermaid (default) or dot")
    p.add_argument("-o", "--output", metavar="FILE", help="write to this file instead of standard output")


def main(args: argparse.Namespace) -> int:
    graph = load_graph(Path(args.guide))
    text = render_graph(graph, args.format)
    if args.output:
        out = Path(args.output)
        write_files(out.parent if str(out.parent) else Path("."), {out.name: text})
    else:
        sys.stdout.write(text)
    return EXIT_OK
