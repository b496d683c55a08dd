"""Benchmark: median time to parse the seed guide into a step graph, next to markdown-it-py's own
tokenize time of the same text (target: ratio <= 1.5). The two are timed in turn, run after run, so
that a busy machine slows both alike.

    .venv/bin/python scripts/bench_parse.py [GUIDE] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from runbook.parse import make_parser, parse_text

ROOT = Path(__file__).resolve().parent.parent


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = ROOT / "docs/guides/streaming-replication-wal-resource-manager.ja.md"
    ap.add_argument("guide", nargs="?", default=str(default))
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args(argv)
    text = Path(args.guide).read_text(encoding="utf-8")
    md = make_parser()  # the same parser configuration (commonmark + front matter + heading ids)

    def tokenize() -> object:
        return md.parse(text)

    def parse() -> object:
        return parse_text(text, args.guide)

    for _ in range(20):  # warm up both
        tokenize()
        parse()
    pairs = [(_timed(tokenize), _timed(parse)) for _ in range(args.repeat)]
    tok = statistics.median(t for t, _ in pairs)
    full = statistics.median(p for _, p in pairs)
    ratio = statistics.median(p / t for t, p in pairs)
    print(f"guide: {args.guide} ({len(text.splitlines())} lines), {args.repeat} runs each, medians")
    print(f"markdown-it-py tokenize: {tok * 1000:.3f} ms")
    print(f"runbook parse:           {full * 1000:.3f} ms")
    print(f"ratio: {full / tok:.2f}x (target <= 1.5x); median of the per-run ratios: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
