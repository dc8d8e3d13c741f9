"""The crash suite's world: both sandboxes on loopback behind kill switches, a hub home,
web orders placed between kills, an oversell sampler, and the checks made after each kill.

Kill points are named, never timed:
* ``call``: the Nth partner request of a kind (``bc:GET /v2/orders``, ``qbo:POST batch``).
  A :class:`KillSwitch` (ASGI middleware in front of the sandbox) SIGKILLs the hub's
  process on receipt, ``before`` the sandbox applies it, or ``after`` it applied it and
  before the answer leaves (the answer is never sent).
* ``commit``: the Nth database commit of a kind (the tables it wrote, ``cursors+orders``),
  ``before`` or ``after`` it reaches the database: ``tests/crash_hub.py`` runs the hub
  with SQLAlchemy event listeners that kill it.

The QuickBooks switch strips ``requestid`` from every request, so the sandbox never
replays an answer: only the hub's look-up by DocNumber stands between a crash after a
posted batch and a double.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from sqlalchemy import select

from stockbridge import services
from stockbridge.bootstrap import Hub, bootstrap
from stockbridge.config import Settings
from stockbridge.connectors.bigcommerce.sandbox import BigCommerceSandbox, SStore
from stockbridge.connectors.qbo.sandbox import QboSandbox
from stockbridge.db.models import Cursor
from stockbridge.demo import connect_sandboxes
from stockbridge.sandbox_server import ServerThread

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

HUB_LAUNCHER = Path(__file__).with_name("crash_hub.py")
STORE_HASH = "crash"
SKUS = [f"SKU{i}" for i in range(8)]
BACK_OFFICE_QTY = 400


@dataclass(frozen=True)
class KillPoint:
    kind: str  # "call" | "commit"
    label: str
    ordinal: int
    phase: str  # "before" | "after"

    def __str__(self) -> str:
        return f"{self.kind}:{self.label}#{self.ordinal}:{self.phase}"


class KillSwitch:
    """ASGI middleware around a sandbox: traces requests by kind and, when armed, kills
    the hub at the Nth request of a kind."""

    def __init__(self, name: str, inner: App, *, strip_request_ids: bool = False) -> None:
        self.name, self.inner, self.strip = name, inner, strip_request_ids
        self.trace: list[str] = []
        self.seen: Counter[str] = Counter()
        self.armed: tuple[int, KillPoint] | None = None
        self.fired: KillPoint | None = None

    def arm(self, pid: int, point: KillPoint) -> None:
        self.seen = Counter()
        self.fired = None
        self.armed = (pid, point)

    def disarm(self) -> None:
        self.armed = None

    def label(self, scope: Scope) -> str:
        parts = scope["path"].strip("/").split("/")
        if parts[:1] == ["stores"]:  # BigCommerce: /stores/{hash}/v3/...
            parts = ["{id}" if p.isdigit() else p for p in parts[2:]]
            return f"{self.name}:{scope['method']} /" + "/".join(parts)
        if parts[:2] == ["v3", "company"]:  # QuickBooks: /v3/company/{realm}/batch
            tail = "/".join("{id}" if p.isdigit() else p for p in parts[3:])
            return f"{self.name}:{scope['method']} {tail}"
        return f"{self.name}:{scope['method']} {scope['path']}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/admin/"):
            await self.inner(scope, receive, send)
            return
        if self.strip and scope.get("query_string"):
            pairs = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
            kept = [(k, v) for k, v in pairs if k.lower() != "requestid"]
            scope = {**scope, "query_string": urlencode(kept).encode()}
        label = self.label(scope)
        self.trace.append(label)
        self.seen[label] += 1
        armed = self.armed
        if armed is None or armed[1].label != label or self.seen[label] != armed[1].ordinal:
            await self.inner(scope, receive, send)
            return
        pid, point = armed
        self.armed, self.fired = None, point
        if point.phase == "after":
            answer: list[Message] = []

            async def hold(message: Message) -> None:
                answer.append(message)

            await self.inner(scope, receive, hold)  # applied; the answer never leaves
        _kill(pid)
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it died already
        os.kill(pid, signal.SIGKILL)


@dataclass
class Placed:
    web_id: str
    lines: list[tuple[str, int]]


@dataclass
class World:
    """Sandboxes, switches, the hub's home and everything the checks need."""

    root: Path
    rng: random.Random
    bc_sandbox: BigCommerceSandbox = field(init=False)
    qbo_sandbox: QboSandbox = field(init=False)
    bc_switch: KillSwitch = field(init=False)
    qbo_switch: KillSwitch = field(init=False)
    placed: list[Placed] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: int = 0
    violations: list[str] = field(default_factory=list)
    cursors: dict[tuple[int, str], datetime] = field(default_factory=dict)
    kills: int = 0
    not_reached: list[str] = field(default_factory=list)
    _next: subprocess.Popen[bytes] | None = None
    _marks: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        self.bc_sandbox = BigCommerceSandbox(time_scale=0.001)
        self.bc_sandbox.stores[STORE_HASH] = SStore(
            hash=STORE_HASH, token="t", quota=100_000, async_delay_ms=20
        )
        self.qbo_sandbox = QboSandbox()
        self.qbo_sandbox.limits.enabled = False
        self.bc_switch = KillSwitch("bc", self.bc_sandbox.app)
        self.qbo_switch = KillSwitch("qbo", self.qbo_sandbox, strip_request_ids=True)
        self.bc = ServerThread(self.bc_switch).start()
        self.qbo = ServerThread(self.qbo_switch).start()
        self.home = self.root / "home"
        self.control = self.root / "kill-control"
        self.hub: Hub = bootstrap(Settings(home=self.home))
        self.hub.initialise()
        services.add_store(self.hub, "shop")
        services.set_schedule(self.hub, "shop", off=True)  # only the runs we ask for
        httpx.post(
            f"{self.bc.url}/admin/stores/{STORE_HASH}/products",
            json={
                "products": [
                    {"name": s, "sku": s, "tracking": "product", "inventory_level": 0} for s in SKUS
                ]
            },
        ).raise_for_status()
        httpx.post(
            f"{self.qbo.url}/admin/items",
            json=[{"sku": s, "qty": BACK_OFFICE_QTY} for s in SKUS],
        ).raise_for_status()
        refresh = httpx.post(f"{self.qbo.url}/admin/tokens/issue").json()["refresh_token"]
        connect_sandboxes(
            self.hub,
            "shop",
            bigcommerce_url=self.bc.url,
            store_hash=STORE_HASH,
            access_token="t",
            qbo=self.qbo_sandbox,
            qbo_url=self.qbo.url,
            refresh_token=refresh,
            qbo_settings={"batch_size": 3},
        )
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample_loop, name="oversell", daemon=True)
        self._sampler.start()

    def close(self) -> None:
        if self._next is not None:
            self._next.kill()
            self._next.wait(timeout=10)
        self._stop.set()
        self._sampler.join(timeout=5)
        self.bc.stop()
        self.qbo.stop()
        self.bc_sandbox.close()
        self.hub.engine.dispose()

    # web orders ----------------------------------------------------------------------

    def place_orders(self, count: int, *, spread: bool = False) -> None:
        """``count`` web orders; ``spread``: the second half a wall-clock second later
        than the first (v2 order dates have one-second resolution, and a cursor that
        skipped a page shows only on orders older than the page's last)."""
        if spread and count > 1:
            self.place_orders(count // 2)
            time.sleep(1.02 - time.time() % 1)
            self.place_orders(count - count // 2)
            return
        for _ in range(count):
            skus = self.rng.sample(SKUS, self.rng.randint(1, 2))
            lines = [(sku, self.rng.randint(1, 3)) for sku in skus]
            with self.lock:  # the sampler never sees the web's side without the order
                order = httpx.post(
                    f"{self.bc.url}/admin/stores/{STORE_HASH}/orders",
                    json={"lines": [{"sku": s, "quantity": q} for s, q in lines]},
                )
                order.raise_for_status()
                self.placed.append(Placed(str(order.json()["id"]), lines))

    # oversell: sampled all along -------------------------------------------------------

    def oversold(self) -> list[str]:
        """SKUs whose web stock (or a write to it still in flight) is above back-office
        stock less the quantity on web orders not yet in QuickBooks."""
        store = self.bc_sandbox.stores[STORE_HASH]
        web = store.stock()
        by_id = {p.id: p.sku for p in list(store.products.values())}
        for _due, writes in list(store.pending):
            for _kind, ident, quantity in writes:
                sku = by_id.get(ident)
                if sku is not None:
                    web[sku] = max(web.get(sku, 0), quantity)
        books = self.qbo_sandbox.books
        on_hand = {i["Sku"]: i["QtyOnHand"] for i in list(books.items.values()) if "Sku" in i}
        posted = set(books.receipts_per_doc_number())  # read after the quantities
        unposted: Counter[str] = Counter()
        for order in self.placed:
            if order.web_id not in posted:
                for sku, quantity in order.lines:
                    unposted[sku] += quantity
        return [
            f"{sku}: web {web[sku]} > back office {on_hand[sku]} - unposted {unposted[sku]}"
            for sku in SKUS
            if web.get(sku, 0) > on_hand[sku] - unposted[sku]
        ]

    def _sample_loop(self) -> None:
        while not self._stop.wait(0.02):
            with self.lock:
                found = self.oversold()
                self.samples += 1
            self.violations.extend(found)

    # checks after each kill -------------------------------------------------------------

    def check_cursors(self) -> None:
        with self.hub.uow() as uow:
            rows = uow.session.scalars(select(Cursor)).all()
            now = {(r.connection_id, r.stream): r.position for r in rows}
        for key, before in self.cursors.items():
            assert key in now and now[key] >= before, f"cursor {key} moved back: {now.get(key)}"
        self.cursors.update(now)

    def check_finished(self) -> None:
        """After a restart finished: each web order in QuickBooks once, none lost, web
        stock = back-office stock, no run left running, every interrupted run resumed."""
        receipts = self.qbo_sandbox.books.receipts_per_doc_number()
        doubles = {n: c for n, c in receipts.items() if c > 1}
        assert not doubles, f"posted more than once: {doubles}"
        missing = [p.web_id for p in self.placed if p.web_id not in receipts]
        assert not missing, f"web orders never posted: {missing}"
        assert set(receipts) == {p.web_id for p in self.placed}
        with self.hub.uow() as uow:
            assert not uow.runs.unfinished(), "a run was left queued or running"
            runs = uow.runs.history(None, limit=1000)
            stray = [r.id for r in runs if r.status == "interrupted" and r.resumed_by is None]
            assert not stray, f"interrupted runs nobody resumed: {stray}"
        store = self.bc_sandbox.stores[STORE_HASH]
        store.settle(everything=True)
        books = self.qbo_sandbox.books
        on_hand = {i["Sku"]: i["QtyOnHand"] for i in books.items.values() if "Sku" in i}
        assert store.stock() == on_hand, "web stock did not converge"
        self.check_cursors()

    def runs_by_status(self) -> Counter[str]:
        with self.hub.uow() as uow:
            return Counter(r.status for r in uow.runs.history(None, limit=1000))

    # the hub's process ------------------------------------------------------------------

    def env(self, trace: Path | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "STOCKBRIDGE_HOME": str(self.home),
            "CRASH_CONTROL": str(self.control),
            "CRASH_TRACE": str(trace or self.live_trace),
        }
        env.pop("STOCKBRIDGE_DATABASE_URL", None)
        return env

    @property
    def live_trace(self) -> Path:
        return self.root / "commit-trace-live"

    def occurred(self, point: KillPoint) -> bool:
        """Whether the hub made the point's call or commit (the Nth of its kind) since the
        last ``arm``: a point it reached must have killed it."""
        bc_from, qbo_from, commits_from = self._marks
        if point.kind == "call":
            calls = [*self.bc_switch.trace[bc_from:], *self.qbo_switch.trace[qbo_from:]]
            return calls.count(point.label) >= point.ordinal
        with self.live_trace.open() as trace:
            trace.seek(commits_from)
            return trace.read().split().count(point.label) >= point.ordinal

    def arm_commit(self, point: KillPoint | None) -> None:
        token = f"{time.monotonic_ns()}"
        text = f"{token} {point.label} {point.ordinal} {point.phase}" if point else token
        self.control.write_text(text)

    def launch(
        self, *args: str, trace: Path | None = None, wait_go: bool = False
    ) -> subprocess.Popen[bytes]:
        env = self.env(trace)
        if wait_go:
            env["CRASH_WAIT_GO"] = "1"
        return subprocess.Popen(
            [sys.executable, str(HUB_LAUNCHER), *args],
            env=env,
            stdin=subprocess.PIPE if wait_go else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def sync_all_process(self) -> subprocess.Popen[bytes]:
        """A ``sync all`` process, imported and waiting for ``go`` (see ``go``); the next
        one starts now, so its start-up overlaps this round."""
        ready = self._next or self.launch("sync", "all", wait_go=True)
        self._next = self.launch("sync", "all", wait_go=True)
        return ready

    @staticmethod
    def go(process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        process.stdin.close()

    def arm(self, point: KillPoint | None, pid: int) -> None:
        size = self.live_trace.stat().st_size if self.live_trace.exists() else 0
        self._marks = (len(self.bc_switch.trace), len(self.qbo_switch.trace), size)
        self.bc_switch.disarm()
        self.qbo_switch.disarm()
        self.arm_commit(point if point and point.kind == "commit" else None)
        if point is not None and point.kind == "call":
            switch = self.bc_switch if point.label.startswith("bc:") else self.qbo_switch
            switch.arm(pid, point)


def kill_points(calls: list[str], commits: list[str]) -> list[KillPoint]:
    """Every (kind, ordinal) of the traced run, both phases."""
    points: list[KillPoint] = []
    for kind, trace in (("call", calls), ("commit", commits)):
        seen: Counter[str] = Counter()
        for label in trace:
            seen[label] += 1
            for phase in ("before", "after"):
                points.append(KillPoint(kind, label, seen[label], phase))
    return points


def is_window(point: KillPoint) -> bool:
    """Points inside a step's windows (partner calls that change or read orders and
    stock, commits of orders, cursors and what was sent), as opposed to run bookkeeping."""
    if point.kind == "commit":
        return bool({"orders", "cursors", "partner_links"} & set(point.label.split("+")))
    return any(
        point.label.endswith(tail)
        for tail in ("batch", "/v2/orders", "/v2/orders/{id}/products", "adjustments/absolute")
    ) or point.label in ("qbo:GET query", "qbo:POST query", "qbo:GET cdc")


def choose(points: list[KillPoint], budget: int | None, seed: int) -> list[KillPoint]:
    """The first occurrence of every window kind (both phases), then a seeded sample of
    the rest, up to ``budget`` points (None: the window kinds alone)."""
    rng = random.Random(seed)
    first = [p for p in points if p.ordinal == 1 and is_window(p)]
    if budget is None:
        return first
    if budget <= len(first):
        return rng.sample(first, max(budget, 0))
    rest = [p for p in points if p not in first]
    return first + rng.sample(rest, min(len(rest), budget - len(first)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
