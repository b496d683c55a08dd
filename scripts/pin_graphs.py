"""Pin the step graph (or the exact findings) of every guide in tests/fixtures and ../shared/.

    .venv/bin/python scripts/pin_graphs.py          # rewrite tests/fixtures/graphs/*.json
    .venv/bin/python scripts/pin_graphs.py --check  # exit 1 and list the pins that would change

Run it only when a change means to alter a graph, and say in the commit message why each changed
pin changed (tests/test_graph_pins.py compares every pin byte for byte).

The pages of docs/ are not pinned: tests/test_docs_*.py assert each one's shape and the few facts it
exists to show, so that editing a docs page regenerates nothing (issue 19 point 5).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from runbook.errors import RunbookError
from runbook.jsonable import to_dict
from runbook.parse import parse_file
from runbook.validate import graph_to_json

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PINS = ROOT / "tests" / "fixtures" / "graphs"


def cases(root: Path = ROOT, shared: Path | None = SHARED) -> list[tuple[str, Path]]:
    """(stable display name, path) of every pinned guide: the fixtures' guides and bad files, and
    shared/'s guides, seeds and corpus sample (named ``shared/…``)."""
    found: list[tuple[str, Path]] = []
    for pattern in ("tests/fixtures/guides/*.md", "tests/fixtures/bad/*.md"):
        found += [(p.relative_to(root).as_posix(), p) for p in sorted(root.glob(pattern))]
    if shared is not None and shared.is_dir():
        for pattern in ("guides/*.md", "seeds/*.txt", "corpus-sample/**/*.md"):
            found += [("shared/" + p.relative_to(shared).as_posix(), p) for p in sorted(shared.glob(pattern))]
    return found


def pin_name(display: str) -> str:
    """File name of a guide's pin: ``tests/fixtures/guides/x.md`` -> ``tests__fixtures__guides__x.md.json``."""
    return display.replace("/", "__") + ".json"


def render(path: Path, display: str) -> str:
    """The graph's JSON as ``runbook parse`` writes it, or the error and its findings if it fails."""
    try:
        data = graph_to_json(parse_file(path, display=display))
    except RunbookError as exc:
        data = {
            "error": type(exc).__name__,
            "exit_status": exc.exit_status,
            "message": exc.message,
            "findings": [to_dict(f) for f in exc.findings],
        }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if any pin would change")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"{SHARED} is missing: its guides' pins cannot be made", file=sys.stderr)
        return 2
    PINS.mkdir(parents=True, exist_ok=True)
    wanted = {pin_name(display): render(path, display) for display, path in cases()}
    changed = [name for name, text in wanted.items()
               if not (PINS / name).is_file() or (PINS / name).read_text(encoding="utf-8") != text]
    stale = sorted(p.name for p in PINS.glob("*.json") if p.name not in wanted)
    for name in changed:
        print(f"changed: {name}")
    for name in stale:
        print(f"stale: {name}")
    if args.check:
        return 1 if changed or stale else 0
    for name in changed:
        tmp = PINS / (name + ".tmp")
        tmp.write_text(wanted[name], encoding="utf-8")
        tmp.replace(PINS / name)
    for name in stale:
        (PINS / name).unlink()
    print(f"{len(wanted)} pins, {len(changed)} written, {len(stale)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
