"""``runbook graph GUIDE.md``: draw a guide's steps against its hosts (Mermaid or DOT).

Mermaid goes to standard output inside a Markdown fence (ready to paste into a page); ``-o FILE.mmd``
writes the bare diagram (what Mermaid's tools read), ``-o FILE.md`` keeps the fence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook.errors import EXIT_OK
from runbook.export import DIAGRAM_FORMATS
from runbook.export.diagram import render_diagram
from runbook.load import load_graph

from ..outputs import write_atomic
from .options import add_lang, add_mkdir, add_site_config


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("guide", help="the guide (Markdown or a step graph as JSON)")
    p.add_argument("--format", default="mermaid", choices=DIAGRAM_FORMATS, help="mermaid (default) or dot")
    p.add_argument("-o", "--output", metavar="FILE", help="write to this file instead of standard output "
                   "(FILE.mmd: the bare Mermaid diagram; FILE.md: inside a Markdown fence)")
    add_lang(p)
    add_site_config(p)
    add_mkdir(p)


def unfenced(text: str) -> str:
    """A Mermaid diagram without the Markdown fence around it."""
    lines = text.strip("\n").splitlines()
    if len(lines) >= 2 and lines[0].startswith("```") and lines[-1].strip() == "```":
        lines = lines[1:-1]
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> int:
    from runner.reports.console import progress

    graph = load_graph(Path(args.guide), args.lang, site_config=args.site_config)
    text = render_diagram(graph, args.format)
    if args.output:
        out = Path(args.output)
        if args.format == "mermaid" and out.suffix.lower() != ".md":
            text = unfenced(text)
        write_atomic(out, text, mkdir=args.mkdir)
        progress(f"runbook: wrote {out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK
