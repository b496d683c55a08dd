"""``runbook report merge A.json B.json…``: one site report from the JSON reports of a site's shards
(``runbook run SITE --shard K/N --json shard-K.json`` on each machine of a CI matrix): its summary on
stdout, and with ``--json``, ``--junit``, ``--html DIR`` the site's JSON, JUnit XML and HTML index
(docs/ci.md).  Exit status as the site run's: 1 when a page failed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..outputs import folder_ready
from .options import add_mkdir


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["merge"], help="merge: join the JSON reports of a site's shards")
    p.add_argument("reports", nargs="+", metavar="REPORT.json", help="site reports (runbook run SITE --json)")
    p.add_argument("--json", metavar="FILE", help="write the merged site report (runbook schema site-report)")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML for the whole site")
    p.add_argument("--html", metavar="DIR", help="write DIR/index.html and a report per page at its path")
    add_mkdir(p)


def main(args: argparse.Namespace) -> int:
    from runner.reports.merge import merge_reports
    from runner.reports.site import print_site_summary

    from .run_site import SITE_STATUS, write_site_html, write_site_reports

    for value, name in ((args.json, "--json"), (args.junit, "--junit")):
        if value:
            folder_ready(Path(value).parent, args.mkdir, f" for {name} {value}")
    if args.html and not Path(args.html).is_dir():
        folder_ready(Path(args.html).parent, args.mkdir, f" for --html {args.html}")
    result = merge_reports([Path(r) for r in args.reports])
    print_site_summary(result)
    write_site_reports(result, args.json, args.junit, f"merged report ({len(result.pages)} pages)")
    if args.html:
        write_site_html(result, Path(args.html))
    return SITE_STATUS[result.status]
