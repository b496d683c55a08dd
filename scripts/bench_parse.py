"""Benchmark: median time to parse the seed guide into a step graph, next to markdown-it-py's own
tokenize time of the same text, measured in the same run (target: ratio <= 1.5).

    .venv/bin/python scripts/bench_parse.py [GUIDE] [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from runbook.parse import make_parser, parse_text

ROOT = Path(__file__).resolve().parent.parent


def _median(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    default = ROOT / "docs/guides/streaming-replication-wal-resource-manager.ja.md"
    ap.add_argument("guide", nargs="?", default=str(default))
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    text = Path(args.guide).read_text(encoding="utf-8")
    md = make_parser()  # the same parser configuration (commonmark + front matter + heading ids)
    for _ in range(20):  # warm up both
        md.parse(text)
        parse_text(text, args.guide)
    tokenize = _median(lambda: md.parse(text), args.repeat)
    parse = _median(lambda: parse_text(text, args.guide), args.repeat)
    print(f"guide: {args.guide} ({len(text.splitlines())} lines), {args.repeat} runs each, medians")
    print(f"markdown-it-py tokenize: {tokenize * 1000:.3f} ms")
    print(f"runbook parse:           {parse * 1000:.3f} ms")
    print(f"ratio: {parse / tokenize:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
