"""The dashboard's drift page: counts per kind, a table filtered by kind and SKU, the
same as CSV, and Repair (a run of its own, queued behind a run holding the store).

A check reads the web store's catalog and records the measurement
(``services/drift.py``), so it is a POST with the session's CSRF token: ``GET
/stores/{store}/drift`` only offers the check (a cross-site link or image cannot make the
hub read the partner or add to the drift history). ``POST /stores/{store}/drift`` checks
and shows the result (filtered by ``kind`` and ``q``); ``POST .../drift.csv`` checks and
answers the CSV, never cached."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from stockbridge.bootstrap import Hub
from stockbridge.domain.drift import DRIFT_KINDS, DriftEntry
from stockbridge.jobs.queue import JobQueue
from stockbridge.services.drift import DriftReport, drift_csv, drift_report, request_repair
from stockbridge.services.errors import StoreNotFound
from stockbridge.web.dashboard.guard import Refused, Viewer, viewer
from stockbridge.web.dashboard.inventory import PageTools

__all__ = ["add_drift_routes"]

ViewerDep = Annotated[Viewer, Depends(viewer)]
MAX_QUERY = 100


def _check_filters(kind: str, q: str) -> None:
    if kind and kind not in DRIFT_KINDS:
        raise Refused(422, f"unknown kind {kind!r}: choose {', '.join(DRIFT_KINDS)}")
    if len(q) > MAX_QUERY:
        raise Refused(422, f"the SKU filter is at most {MAX_QUERY} characters")


def _filtered(report: DriftReport, kind: str, q: str) -> list[DriftEntry]:
    needle = q.casefold()
    return [
        e
        for e in report.entries
        if (not kind or e.kind == kind) and (not needle or needle in e.sku.casefold())
    ]


def add_drift_routes(router: APIRouter, hub: Hub, queue: JobQueue, tools: PageTools) -> None:
    async def _report(store: str) -> DriftReport:
        try:
            return await run_in_threadpool(drift_report, hub, store)
        except StoreNotFound as exc:
            raise Refused(404, str(exc)) from None

    @router.get("/stores/{store}/drift")
    async def drift_offer(request: Request, store: str, who: ViewerDep) -> Response:
        page = await tools.store_page(who, store)
        return tools.render(
            request,
            "drift.html",
            page="drift",
            report=None,
            entries=[],
            kind="",
            q="",
            kinds=DRIFT_KINDS,
            **page,
        )

    @router.post("/stores/{store}/drift")
    async def drift_page(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        page = await tools.store_page(who, store)
        kind, q = str(form.get("kind", "")), str(form.get("q", ""))
        _check_filters(kind, q)  # bad filters refused before the partner is read
        report = await _report(store)
        entries = _filtered(report, kind, q)
        return tools.render(
            request,
            "drift.html",
            page="drift",
            report=report,
            entries=entries,
            kind=kind,
            q=q,
            kinds=DRIFT_KINDS,
            **page,
        )

    @router.post("/stores/{store}/drift.csv")
    async def drift_export(request: Request, store: str, who: ViewerDep) -> Response:
        form = await tools.posted(request, who)
        await tools.store_page(who, store)
        kind, q = str(form.get("kind", "")), str(form.get("q", ""))
        _check_filters(kind, q)
        report = await _report(store)
        entries = _filtered(report, kind, q)
        return StreamingResponse(
            drift_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="drift.csv"',
                "Cache-Control": "no-store",
            },
        )

    @router.post("/stores/{store}/drift/repair")
    async def drift_repair(request: Request, store: str, who: ViewerDep) -> Response:
        await tools.posted(request, who)
        await tools.store_page(who, store)
        requested = await run_in_threadpool(request_repair, hub, store)
        queue.submit_run(requested.run_id)
        return RedirectResponse(f"/stores/{quote(store)}", status_code=303)
