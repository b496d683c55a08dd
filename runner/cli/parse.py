"""``runbook parse GUIDE.md``: print a guide's step graph as JSON (validated)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from runbook.errors import EXIT_OK

from ..outputs import write_atomic
from .options import add_lang, add_mkdir, add_site_config


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("guide", help="the guide (Markdown) to read")
    add_lang(p)
    add_site_config(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write the graph to this file instead of standard output")
    add_mkdir(p)


def main(args: argparse.Namespace) -> int:
    from runbook.parse import parse_file
    from runbook.validate import graph_to_json

    graph = parse_file(args.guide, args.lang, site_config=args.site_config)
    text = json.dumps(graph_to_json(graph), ensure_ascii=False, indent=2) + "\n"
    if args.output:
        write_atomic(Path(args.output), text, mkdir=args.mkdir)
    else:
        sys.stdout.write(text)
    return EXIT_OK
