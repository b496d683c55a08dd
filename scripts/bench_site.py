"""Benchmark (not a test): a site of 60 example pages, three ways, side by side in one invocation.

    flock /tmp/runbook-sandbox.lock .venv/bin/python scripts/bench_site.py [--pages 60] [-j 2] [--fresh N]
        [--broken] [--repeat N]

The pages are the example pages of docs/site/ (English and Japanese: the tutorial, full-text
search, jsonb, LIKE and pg_trgm; their expected output is psql 15's), copied round-robin into a
temporary site with the same _config.yml and runbook.toml, so each page holds a realistic amount of
SQL (about 9 statements, 7 checked) and every page passes (volatile-values.md by its second run).
The three ways:

1. ``runbook run SITE -j 2``: one shared example server, a database per page cloned from the
   template holding the prelude (the way a site runs);
2. the same pages each on a fresh sandbox (``runbook run PAGE.md`` per page: a sandbox host, a
   cluster, the prelude, the page); with ``--fresh N`` only the first N pages are run this way and
   the total is scaled to all pages (said so in the output);
3. ``psql -f`` of the same SQL (Liquid resolved, as the pages are read) on one database of an
   already running server, each page in a schema of its own: the floor, checking nothing.

Targets (issue 9): way 1 takes at most 30 s for 60 pages and at most 3 x way 3 (issue 17: with
the second run on).  ``--broken``: the same site with an unterminated statement and a crash added
costs at most a second more (issue 17).  ``--repeat N``: ways 1 and 3 (and the broken site) N times,
interleaved, so that a change of the machine's load meets each of them; the figures are then
min–median–max, the ratio taken run by run (the broken site's cost against the run just before it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "docs" / "site"
TEMPLATES = ["tutorial.md", "reference/full-text-search.md", "reference/jsonb.md", "reference/like.md",
             "reference/volatile-values.md", "ja/tutorial.md", "ja/reference/full-text-search.md",
             "ja/reference/jsonb.md", "ja/reference/like.md", "ja/reference/volatile-values.md"]
"""volatile-values.md (en, ja): an OID, a transaction id and a process id differ from the page, so
these pages run a second time (values found volatile): the bench measures the second run too."""
BROKEN = ["unterminated.md", "crash.md"]
"""``--broken``: a second site run with these pages added (an unterminated statement, a crash of
the shared server), to measure what they cost the site."""


def make_site(folder: Path, n: int, templates: list[str] = TEMPLATES) -> list[Path]:
    """``n`` example pages copied round-robin from docs/site, with the site's configuration."""
    for name in ("_config.yml", "runbook.toml"):
        shutil.copy(SITE / name, folder / name)
    pages = []
    for i in range(n):
        src = SITE / templates[i % len(templates)]
        dst = folder / "pages" / f"p{i + 1:02d}-{src.name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
        pages.append(dst)
    return pages


def runbook(*args: str) -> tuple[float, int, str]:
    t0 = time.monotonic()
    cp = subprocess.run([sys.executable, "-m", "runner.cli", "run", *args], capture_output=True, text=True,
                        check=False)
    return time.monotonic() - t0, cp.returncode, cp.stdout + cp.stderr


def psql_floor(pages: list[Path]) -> tuple[float, int]:
    """Seconds ``psql -f`` takes for every page's SQL on one database (each page in its own schema)."""
    from runbook.load import load_graph
    from runbook.site_pages import load_site_settings
    from runner.planning.environment import installed_pg_versions
    from runner.site.server import SERVER_HOST, ExampleServer

    settings = load_site_settings(pages[0].parent.parent)
    parts: list[str] = []
    statements = 0
    for i, page in enumerate(pages, start=1):
        graph = load_graph(page)
        parts.append(f"CREATE SCHEMA p{i};\nSET search_path = p{i}, public;")
        for action in graph.actions():
            for st in action.statements:
                parts.append(st.sql)
                statements += 1
    sql = "\n".join(parts) + "\n"
    server = ExampleServer([settings], installed_pg_versions()[-1])
    server.start()
    try:
        from runbook.site_pages import Page

        db = server.new_database(Page(pages[0], "floor.md"), settings)
        argv = server.sandbox.exec_argv(SERVER_HOST, ["psql", "-X", "-q", "-d", db, "-f", "-"],
                                        user=server.sandbox.user)
        t0 = time.monotonic()
        cp = subprocess.run(argv, input=sql, capture_output=True, text=True, check=False)
        took = time.monotonic() - t0
        if cp.returncode != 0:
            sys.exit(f"psql -f failed (exit status {cp.returncode}): {cp.stderr[-2000:]}")
        return took, statements
    finally:
        server.stop()


def site_run(folder: Path, tmp: Path, jobs: int) -> tuple[float, dict[str, Any]]:
    """Way 1: wall seconds of ``runbook run SITE -j N`` (which must pass) and its JSON report."""
    report = tmp / "site.json"
    wall, status, err = runbook(str(folder), "-j", str(jobs), "--json", str(report), "--transcripts", str(tmp / "out"))
    if status != 0:
        sys.exit(f"the site run failed (exit status {status}):\n{err[-3000:]}")
    return wall, json.loads(report.read_text())


def broken_run(folder: Path, tmp: Path, jobs: int) -> float:
    """``--broken``: wall seconds of the site with an unterminated statement and a crash added."""
    wall, status, err = runbook(str(folder), "-j", str(jobs), "--transcripts", str(tmp / "out-broken"))
    if status != 1 or "statement not terminated" not in err:
        sys.exit(f"the site with broken pages did not fail as it should (exit status {status}):\n{err[-3000:]}")
    return wall


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """min–median–max (the value alone for one)."""
    if len(values) == 1:
        return fmt.format(values[0])
    return "–".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=60)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--fresh", type=int, default=None, help="pages run on a fresh sandbox each (default: all)")
    ap.add_argument("--broken", action="store_true", help="also: the site with an unterminated statement and a crash")
    ap.add_argument("--repeat", type=int, default=1,
                    help="ways 1 and 3 (and --broken) this many times, one after the other: min–median–max")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-site-") as tmp:
        folder = Path(tmp) / "site"
        folder.mkdir()
        pages = make_site(folder, args.pages)
        other = Path(tmp) / "broken"
        if args.broken:
            other.mkdir()
            make_site(other, args.pages)
            for name in BROKEN:
                shutil.copy(SITE / name, other / "pages" / name)
        walls: list[float] = []
        floors: list[float] = []
        brokens: list[float] = []
        starts: list[float] = []
        data: dict[str, Any] = {}
        for _ in range(max(1, args.repeat)):  # interleaved: a change of the machine's load meets each way
            wall, data = site_run(folder, Path(tmp), args.jobs)
            walls.append(wall)
            starts.append(data["server_start"])
            floor, statements = psql_floor(pages)
            floors.append(floor)
            if args.broken:
                brokens.append(broken_run(other, Path(tmp), args.jobs))
        checks = sum(data["summary"]["checks"].values())
        server_start = data["server_start"]
        page_times = sorted(p["duration"] for p in data["pages"])

        n_fresh = min(args.fresh if args.fresh is not None else len(pages), len(pages))
        fresh_wall = 0.0
        for page in pages[:n_fresh]:
            took, status, err = runbook(str(page), "--transcripts", str(Path(tmp) / "out-fresh"))
            if status != 0:
                sys.exit(f"{page} on a fresh sandbox failed (exit status {status}):\n{err[-3000:]}")
            fresh_wall += took
        fresh_total = fresh_wall * len(pages) / n_fresh if n_fresh else 0.0

    site_wall = statistics.median(walls)
    ratios = [w / f for w, f in zip(walls, floors, strict=True)]
    runs = f" (min–median–max of {len(walls)} runs)" if len(walls) > 1 else ""
    print(f"site of {len(pages)} example pages ({statements} statements, {checks} checks), -j {args.jobs}{runs}:")
    median_page = page_times[len(page_times) // 2]
    print(f"  1. runbook run SITE -j {args.jobs}   {spread(walls)} s wall  (last run: example server start "
          f"{server_start:.2f} s; per page median {median_page:.2f} s, max {page_times[-1]:.2f} s)")
    scaled = f" (measured {n_fresh} pages: {fresh_wall:.2f} s, scaled to {len(pages)})" if n_fresh < len(pages) else ""
    print(f"  2. each page on a fresh sandbox {fresh_total:7.2f} s wall{scaled}")
    print(f"  3. psql -f, one database       {spread(floors)} s")
    without = [(w - st) / f for w, st, f in zip(walls, starts, floors, strict=True)]
    print(f"  1 / 3 = {spread(ratios, '{:.1f}')} x   (without the server start: {spread(without, '{:.1f}')} x)   "
          f"2 / 1 = {fresh_total / site_wall:.1f} x")
    if brokens:
        deltas = [b - w for b, w in zip(brokens, walls, strict=True)]
        print(f"  with {' and '.join(BROKEN)} added: {spread(brokens)} s wall  ({spread(deltas, '{:+.2f}')} s; "
              f"target <= +1 s: {_verdict(deltas, 1.0)})")
    print(f"  targets: 1 <= 30 s: {_verdict(walls, 30.0)};  1 <= 3 x 3: {_verdict(ratios, 3.0)}")
    return 0


def _verdict(values: list[float], limit: float) -> str:
    if max(values) <= limit:
        return "met" + (" in every run" if len(values) > 1 else "")
    if statistics.median(values) <= limit:
        return "met by the median, NOT in every run"
    return "NOT met"


if __name__ == "__main__":
    sys.exit(main())
