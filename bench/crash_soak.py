"""Crash soak: kill -9 the hub at EVERY point of a traced round (each partner call and each
commit, before and after), for the CLI's ``sync all`` and for ``serve``, restarting and
finishing after each kill. The CI suite (tests/test_crash_kills.py) runs the first
occurrence of each window kind; this runs them all.

    python -m bench.crash_soak [--mode cli|serve|both] [--seed N] [--serve-points N]

Exits non-zero when a check fails (a double, a lost order, web stock not converged, a
cursor moving back, a run left running, an oversell sample) or when no kill happened.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.crash_rounds import ServeRounds, cli_round, trace_round
from tests.crash_support import KillPoint, World, kill_points


def _soak(mode: str, seed: int, limit: int | None) -> dict[str, object]:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp), random.Random(seed))
        rounds = ServeRounds(world) if mode == "serve" else None
        try:
            calls, commits = trace_round(world)
            points = kill_points(calls, commits)
            if limit is not None and limit < len(points):
                points = random.Random(seed).sample(points, limit)
            survived: list[KillPoint] = []
            for point in points:
                killed = rounds.round(point) if rounds else cli_round(world, point)
                if killed:
                    survived.append(point)
            receipts = world.qbo_sandbox.books.receipts_per_doc_number()
            return {
                "mode": mode,
                "points": len(points),
                "kills survived": len(survived),
                "not reached": len(world.not_reached),
                "web orders": len(world.placed),
                "doubles found": sum(1 for c in receipts.values() if c > 1),
                "items lost": sum(1 for p in world.placed if p.web_id not in receipts),
                "oversell samples": world.samples,
                "oversell samples violating": len(world.violations),
                "runs": dict(world.runs_by_status()),
                "seconds": round(time.monotonic() - started),
            }
        finally:
            if rounds is not None:
                rounds.stop()
            world.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crash_soak")
    parser.add_argument("--mode", choices=("cli", "serve", "both"), default="both")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--serve-points", type=int, default=None, help="a seeded sample")
    args = parser.parse_args(argv)
    modes = ("cli", "serve") if args.mode == "both" else (args.mode,)
    ok = True
    for mode in modes:
        try:
            result = _soak(mode, args.seed, args.serve_points if mode == "serve" else None)
        except AssertionError as failure:  # a check after a kill failed: say which
            print(f"{mode}: FAILED: {failure}", flush=True)
            ok = False
            continue
        print(result, flush=True)
        ok = ok and bool(result["kills survived"]) and not result["oversell samples violating"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
