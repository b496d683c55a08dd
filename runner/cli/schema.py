"""``runbook schema [graph|report|site-report]``: print the JSON Schema of step graphs, run reports or
site run reports."""

from __future__ import annotations

import argparse
import json
import sys

from runbook.errors import EXIT_OK


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("which", nargs="?", default="graph", choices=["graph", "report", "site-report", "plan", "inventory"],
                   help="graph (default), report, site-report, plan or inventory")


def main(args: argparse.Namespace) -> int:
    if args.which == "graph":
        from runbook.validate import load_schema

        schema = load_schema("graph")
    elif args.which == "site-report":
        from runner.reports.schemas import load_site_report_schema

        schema = load_site_report_schema()
    elif args.which == "plan":
        from runner.planning.plan_view import load_plan_schema

        schema = load_plan_schema()
    elif args.which == "inventory":
        from runner.planning.inventory import load_inventory_schema

        schema = load_inventory_schema()
    else:
        from runner.reports.schemas import load_report_schema

        schema = load_report_schema()
    sys.stdout.write(json.dumps(schema, ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK
