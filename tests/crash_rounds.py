"""One kill, then restart and finish: the rounds of the crash suite, for the CLI's
``sync all`` and for ``serve`` (used by tests/test_crash_kills.py and bench/crash_soak.py)."""

from __future__ import annotations

import contextlib
import subprocess

import httpx

from stockbridge import services
from stockbridge.domain.model import RunStatus
from tests.crash_support import KillPoint, World, free_port
from tests.service_helpers import wait_for

PROCESS_TIMEOUT = 120


def trace_round(world: World) -> tuple[list[str], list[str]]:
    """A baseline Sync All, then one traced uninterrupted round: the partner calls and
    commits a round makes, in order (the kill points are drawn from them)."""
    world.place_orders(3)
    services.sync(world.hub, "shop")
    world.check_finished()
    world.place_orders(4)
    world.bc_switch.trace.clear()
    world.qbo_switch.trace.clear()
    trace = world.root / "commit-trace"
    world.arm_commit(None)
    process = world.launch("sync", "all", trace=trace)
    assert process.wait(timeout=PROCESS_TIMEOUT) in (0, 1)
    world.check_finished()
    calls = [*world.bc_switch.trace, *world.qbo_switch.trace]
    return calls, trace.read_text().split()


def cli_round(world: World, point: KillPoint) -> bool:
    """New orders, ``stockbridge sync all`` killed at ``point``, new orders, then a
    restart that finishes; the checks. Returns whether the kill happened."""
    world.place_orders(4, spread=True)
    process = world.sync_all_process()
    world.arm(point, process.pid)
    world.go(process)
    code = process.wait(timeout=PROCESS_TIMEOUT)
    killed = code == -9
    _after_kill(world, point, killed)
    world.arm(None, 0)
    world.place_orders(2)  # arriving between kills: the re-formed batches differ
    services.sync(world.hub, "shop")  # restart (a new process's worth of hub) and finish
    world.check_finished()
    return killed


class ServeRounds:
    """``stockbridge serve`` under the launcher: killed at a point while it runs a Sync
    All the API asked for, restarted, and finished through the API."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.port = free_port()
        self.token = services.create_token(world.hub, "shop", operator=False)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.world.arm_commit(None)
        self.process = self.world.launch("serve", "--port", str(self.port))
        wait_for(self._up, timeout=60, what="serve to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def round(self, point: KillPoint) -> bool:
        world = self.world
        if self.process is None or self.process.poll() is not None:
            self.start()
        assert self.process is not None
        world.place_orders(4, spread=True)
        world.arm(point, self.process.pid)
        run_id: int | None = None
        # the kill may come while serve records the request itself: then no answer
        with self.api() as api, contextlib.suppress(httpx.TransportError):
            run_id = api.post("/api/v1/stores/shop/sync", json={"steps": "all"}).json()["run_id"]
        process = self.process
        wait_for(
            lambda: (
                process.poll() is not None
                or (run_id is not None and self._finished(run_id) and self._lease_free())
            ),
            timeout=PROCESS_TIMEOUT,
            what="the kill or the end of the run",
        )
        killed = process.poll() == -9
        _after_kill(world, point, killed)
        world.arm(None, 0)
        world.place_orders(2)
        if killed:
            self.start()  # resumes what the dead process left
        wait_for(self._idle, timeout=PROCESS_TIMEOUT, what="resumed runs to finish")
        with self.api() as api:
            run_id = api.post("/api/v1/stores/shop/sync", json={"steps": "all"}).json()["run_id"]
        wait_for(lambda: self._finished(run_id), timeout=PROCESS_TIMEOUT, what="the final run")
        wait_for(self._idle, timeout=PROCESS_TIMEOUT, what="no run left")
        world.check_finished()
        return killed

    def _up(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _finished(self, run_id: int) -> bool:
        detail = services.run_detail(self.world.hub, run_id)
        return detail is not None and detail.finished_at is not None

    def _lease_free(self) -> bool:
        """The run also released the store's lease: it made its last commit."""
        with self.world.hub.uow() as uow:
            return uow.runs.lease(1)[0] is None

    def _idle(self) -> bool:
        with self.world.hub.uow() as uow:
            return not uow.runs.unfinished()


def _after_kill(world: World, point: KillPoint, killed: bool) -> None:
    world.check_cursors()
    if not killed:
        # Data decide which commits a round makes; a point it never reached is no failure
        # of the switch, a point it reached and survived would be.
        assert not world.occurred(point), f"{point} was reached but did not kill the hub"
        world.not_reached.append(str(point))
        return
    world.kills += 1
    # The listing marks the dead process's run interrupted at once; nothing stays running.
    shown = services.run_history(world.hub, "shop", 5)
    assert all(run.status is not RunStatus.RUNNING for run in shown), shown
