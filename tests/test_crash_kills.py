"""kill -9 of the hub inside every window, then restart and finish.

Kill points are drawn from a traced uninterrupted round (every partner call and every
commit it made, each ``before`` and ``after``): the first occurrence of each window
kind, topped up with a seeded sample (``CRASH_CLI_POINTS`` / ``CRASH_SERVE_POINTS``,
``CRASH_SEED``; ``bench/crash_soak.py`` runs them all). New web orders arrive before
and after each kill, so a re-formed batch differs from the one the partner took, and the
QuickBooks sandbox never replays a request id. After every kill: each web order in
QuickBooks exactly once, none lost, web stock converged, cursors never moved back, no
run left running; all along, web stock never above back-office stock less unposted web
orders (sampled every 20 ms).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from tests.crash_rounds import ServeRounds, cli_round, trace_round
from tests.crash_support import World, choose, is_window, kill_points

SEED = int(os.environ.get("CRASH_SEED", "13"))
CLI_POINTS = int(os.environ.get("CRASH_CLI_POINTS", "0"))  # 0: every window kind, once
SERVE_POINTS = int(os.environ.get("CRASH_SERVE_POINTS", "4"))


def test_sync_all_killed_inside_every_window_loses_and_doubles_nothing(tmp_path: Path) -> None:
    world = World(tmp_path, random.Random(SEED))
    try:
        calls, commits = trace_round(world)
        points = choose(kill_points(calls, commits), CLI_POINTS or None, SEED)
        # a point a round did not reach (its data made other commits) gets one more round
        killed = [point for point in points if cli_round(world, point) or cli_round(world, point)]
        assert len(killed) >= len(points) * 0.9, f"kill points never reached: {world.not_reached}"
        assert world.samples > 0 and not world.violations, world.violations[:5]
        # a kill inside a step leaves a running run: each one was marked interrupted
        inside = sum(1 for point in killed if is_window(point))
        assert inside <= world.runs_by_status()["interrupted"] <= len(killed)
    finally:
        world.close()


def test_serve_killed_inside_windows_resumes_and_finishes(tmp_path: Path) -> None:
    world = World(tmp_path, random.Random(SEED + 1))
    rounds = ServeRounds(world)
    try:
        calls, commits = trace_round(world)
        points = choose(kill_points(calls, commits), SERVE_POINTS, SEED + 1)
        killed = [point for point in points if rounds.round(point) or rounds.round(point)]
        assert len(killed) >= len(points) * 0.75, f"never reached: {world.not_reached}"
        assert world.samples > 0 and not world.violations, world.violations[:5]
    finally:
        rounds.stop()
        world.close()
