"""Dashboard pages. Each route parses the request, calls a use case (``services``,
``accounts``) and renders a template with its typed result; bad input re-renders the
form with the reason and a 4xx status, and nothing is saved. Every page needs a
session, every POST its CSRF token (see ``guard``). A user sees only the stores granted
to them (operators: all): every other store's pages answer 404, word for word as a store
that does not exist, so store names do not leak; the store list shows only theirs.

Pages: / (stores), /stores/{store} (overview, with /progress polled by htmx while a run
is active), /history, /runs/{id}, /settings, /inventory (``inventory.py``), /rejected, and
/login, /logout; /setup, /stores/{store}/setup and /tokens (``setup.py``).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from stockbridge import accounts
from stockbridge.bootstrap import Hub
from stockbridge.domain.model import SYNC_ALL, RunStatus, Step, Trigger
from stockbridge.domain.runs import changed_nothing
from stockbridge.domain.wording import STEP_TITLES, mode_title
from stockbridge.jobs.queue import JobQueue
from stockbridge.services.charts import OUTCOMES, StoreCharts, store_charts
from stockbridge.services.errors import InvalidSetting, StoreNotFound
from stockbridge.services.preview import preview
from stockbridge.services.rejected import rejected_inputs
from stockbridge.services.runs import (
    RequestSync,
    RetryFailedItems,
    RunDetail,
    RunSummary,
    request_sync,
    retry_failed_items,
    run_detail,
    run_history,
)
from stockbridge.services.status import back_office_bar, store_status
from stockbridge.services.stores import (
    StoreSettings,
    describe_store,
    list_stores,
    resolve_store,
)
from stockbridge.services.webhook_figures import webhook_figures
from stockbridge.web.dashboard.books import add_books_routes
from stockbridge.web.dashboard.charts import bar_chart, dot_chart, line_chart
from stockbridge.web.dashboard.drift import add_drift_routes
from stockbridge.web.dashboard.guard import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    LoginRequired,
    Refused,
    RunId,
    Viewer,
    check_csrf,
    new_login_token,
    read_form,
    set_cookie,
    viewer,
)
from stockbridge.web.dashboard.help import add_help_routes
from stockbridge.web.dashboard.inventory import PageTools, add_inventory_routes
from stockbridge.web.dashboard.settings import add_settings_routes
from stockbridge.web.dashboard.setup import add_setup_routes

__all__ = ["mount_dashboard"]

_HERE = Path(__file__).parent
_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
ViewerDep = Annotated[Viewer, Depends(viewer)]
#: The steps in the seed's words (the forms post the machine ids).
STEP_LABELS = {step.value: title for step, title in STEP_TITLES.items()}
#: Runs per page of the history (older pages by ``?before=<run id>``).
HISTORY_PAGE = 25
#: Stock changes a preview page lists (the count is whole; the CLI and API list all).
PREVIEW_ROWS = 500
#: Pages are never cached, framed by another site, or sent with a Referer off the site.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@pass_context
def _local(context: Context, value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in the store's time zone, with the zone's abbreviation."""
    moment = _moment(value)
    if moment is None:
        return "never"
    zone = ZoneInfo(context.get("timezone") or "UTC")
    local = moment.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def _duration(run: RunSummary | RunDetail) -> str:
    started, finished = run.started_at, run.finished_at
    if started is None:
        return "-"
    seconds = int(((finished or datetime.now(UTC)) - started).total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _percent(entry: dict[str, Any]) -> int:
    total, done = entry.get("total"), entry.get("done", 0)
    if entry.get("status") not in (None, "running"):
        return 100
    return min(100, int(100 * done / total)) if total else 0


_env.filters["local"] = _local
_env.globals.update(
    duration=_duration,
    percent=_percent,
    STEP_LABELS=STEP_LABELS,
    quote=quote,
    mode_title=mode_title,
    changed_nothing=changed_nothing,
)


def _render(
    request: Request, template: str, http_status: int = 200, /, **context: Any
) -> HTMLResponse:
    html = _env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=http_status, headers=PAGE_HEADERS)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    """Only paths on this site are followed after login: never //host, a scheme, a
    backslash, or whitespace and control characters (browsers drop tabs, so "/<tab>/host"
    would become "//host")."""
    if (
        target
        and len(target) <= 2000
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(c.isprintable() and not c.isspace() for c in target)
    ):
        return target
    return "/"


def mount_dashboard(app: FastAPI, hub: Hub, queue: JobQueue) -> None:
    """Add the dashboard's pages, static files and error pages to ``app``."""
    router = APIRouter(include_in_schema=False)
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="dashboard-static")

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, _exc: LoginRequired) -> Response:
        target = "/login"
        if request.method == "GET" and request.url.path != "/":
            target += "?next=" + quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
        if _is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        if _is_htmx(request):
            return HTMLResponse(
                f'<p class="error" role="alert">{_escape(exc.message)}</p>',
                status_code=exc.status,
                headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
            )
        return _render(request, "error.html", exc.status, message=exc.message, status=exc.status)

    def _granted(who: Viewer, store: str) -> None:
        """404 for a store this user may not see: the same answer as an unknown store."""
        if not who.may_see(store):
            raise Refused(404, str(StoreNotFound(f"no store named {store!r}")))

    def _visible_stores(who: Viewer) -> list[StoreSettings]:
        return list_stores(hub, None if who.operator else who.stores)

    async def _store_page(who: Viewer, store: str) -> dict[str, Any]:
        _granted(who, store)
        try:
            described = await run_in_threadpool(describe_store, hub, store)
        except StoreNotFound as exc:
            raise Refused(404, str(exc)) from None
        stores = await run_in_threadpool(_visible_stores, who)
        bar = await run_in_threadpool(back_office_bar, hub, store)
        return {
            "who": who,
            "store": described,
            "bar": bar,
            "stores": [s.name for s in stores],
            "timezone": described.timezone,
            # partners' own connect flows (e.g. OAuth consent), named by the registry
            "connect_buttons": list(hub.registry.connect_buttons.values()),
        }

    async def _posted(request: Request, who: Viewer) -> dict[str, str]:
        form = await read_form(request)
        check_csrf(request, form, who.csrf_token)
        return form

    # logging in --------------------------------------------------------------

    @router.get("/login")
    def login_page(request: Request, next: str | None = None) -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_login_token()
        response = _render(request, "login.html", login_token=token, next=_safe_next(next))
        set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        check_csrf(request, form, request.cookies.get(LOGIN_CSRF_COOKIE, ""))
        name, password = form.get("username", ""), form.get("password", "")
        target = _safe_next(form.get("next"))
        token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        try:
            session_id, _csrf = await run_in_threadpool(
                accounts.log_in, hub, name, password, _client(request)
            )
        except accounts.LoginThrottled as exc:
            response = _render(
                request, "login.html", 429, login_token=token, next=target, error=str(exc)
            )
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except accounts.LoginFailed as exc:
            return _render(
                request,
                "login.html",
                401,
                login_token=token,
                next=target,
                error=str(exc),
                username=name,
            )
        redirect = RedirectResponse(target, status_code=303)
        set_cookie(
            request,
            redirect,
            SESSION_COOKIE,
            session_id,
            int(accounts.SESSION_LIFETIME.total_seconds()),
        )
        redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return redirect

    @router.post("/logout")
    async def logout(request: Request, who: ViewerDep) -> Response:
        await _posted(request, who)
        await run_in_threadpool(accounts.log_out, hub, who.session_id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # pages -------------------------------------------------------------------

    @router.get("/")
    def home(request: Request, who: ViewerDep) -> Response:
        stores = _visible_stores(who)
        if len(stores) == 1:
            return RedirectResponse(f"/stores/{quote(stores[0].name)}", status_code=303)
        return _render(request, "stores.html", who=who, stores=stores, timezone="UTC")

    @router.get("/stores/{store}")
    async def overview(request: Request, store: str, who: ViewerDep) -> Response:
        page = await _store_page(who, store)
        status = await run_in_threadpool(_status, hub, store)
        figures = await run_in_threadpool(store_charts, hub, store)
        webhooks = await run_in_threadpool(webhook_figures, hub, store)
        return _render(
            request,
            "overview.html",
            page="overview",
            status=status,
            charts=overview_charts(figures),
            webhooks=webhooks,
            **page,
        )

    @router.get("/stores/{store}/progress")
    async def progress(request: Request, store: str, who: ViewerDep) -> Response:
        page = await _store_page(who, store)
        status = await run_in_threadpool(_status, hub, store)
        return _render(request, "_progress.html", status=status, oob=True, **page)

    @router.post("/stores/{store}/sync")
    async def sync(request: Request, store: str, who: ViewerDep) -> Response:
        form = await _posted(request, who)
        page = await _store_page(who, store)
        chosen = form.get("steps", "")
        if chosen == "all":
            if not page["store"].sync_all_button:
                raise Refused(
                    409,
                    "Sync All is turned off for this store: turn it on in its Options (General)",
                )
            steps: tuple[Step, ...] = SYNC_ALL
        elif chosen in STEP_LABELS:
            steps = (Step(chosen),)
        else:
            raise Refused(422, "choose all, orders-in, orders-out, inventory-in or inventory-out")
        requested = await run_in_threadpool(request_sync, hub, RequestSync(store, steps))
        queue.submit_run(requested.run_id)
        if not _is_htmx(request):
            return RedirectResponse(f"/stores/{quote(store)}", status_code=303)
        status = await run_in_threadpool(_status, hub, store)
        return _render(request, "_progress.html", status=status, oob=True, **page)

    @router.post("/stores/{store}/preview")
    async def preview_page(request: Request, store: str, who: ViewerDep) -> Response:
        """The dry run of Sync All: what it would post and push; nothing is written. A
        POST (it reads the partners, spending their quota), never prefetched."""
        await _posted(request, who)
        page = await _store_page(who, store)

        def plan_view() -> dict[str, Any]:
            plan = preview(hub, store)
            try:
                changes = list(itertools.islice(plan.stock, PREVIEW_ROWS))
                return {"plan": plan, "changes": changes}
            finally:
                plan.close()

        try:
            view = await run_in_threadpool(plan_view)
        except StoreNotFound as exc:
            raise Refused(404, str(exc)) from None
        return _render(request, "preview.html", page="overview", shown=PREVIEW_ROWS, **view, **page)

    @router.get("/stores/{store}/history")
    async def history(
        request: Request,
        store: str,
        who: ViewerDep,
        trigger: str = "",
        status: str = "",
        before: str = "",
    ) -> Response:
        page = await _store_page(who, store)
        try:
            chosen_trigger = Trigger(trigger) if trigger else None
            chosen_status = RunStatus(status) if status else None
        except ValueError:
            raise Refused(422, "unknown trigger or status filter") from None
        if before and not (before.isascii() and before.isdigit() and len(before) <= 19):
            raise Refused(422, "before: a run number")
        older_than = int(before) if before else None
        runs = await run_in_threadpool(
            lambda: run_history(
                hub,
                store,
                HISTORY_PAGE + 1,  # one more: is there an older page?
                trigger=chosen_trigger,
                status=chosen_status,
                before=older_than,
            )
        )
        shown = runs[:HISTORY_PAGE]
        return _render(
            request,
            "history.html",
            page="history",
            runs=shown,
            chart=history_chart(shown),
            trigger=trigger,
            status=status,
            triggers=[t.value for t in Trigger],
            statuses=[s.value for s in RunStatus],
            older=shown[-1].id if len(runs) > HISTORY_PAGE else None,
            paged=older_than is not None,
            **page,
        )

    @router.get("/stores/{store}/runs/{run_id}")
    async def run_page(request: Request, store: str, run_id: RunId, who: ViewerDep) -> Response:
        page = await _store_page(who, store)
        detail = await run_in_threadpool(run_detail, hub, run_id)
        store_id = await run_in_threadpool(resolve_store, hub, store)
        if detail is None or detail.store_id != store_id:
            raise Refused(404, f"no run {run_id} for store {store!r}")
        return _render(request, "run.html", page="history", run=detail, **page)

    @router.post("/stores/{store}/runs/{run_id}/retry")
    async def retry(request: Request, store: str, run_id: RunId, who: ViewerDep) -> Response:
        await _posted(request, who)
        _granted(who, store)
        try:
            retry = await run_in_threadpool(
                retry_failed_items, hub, RetryFailedItems(store, run_id)
            )
        except StoreNotFound as exc:
            raise Refused(404, str(exc)) from None
        except InvalidSetting as exc:
            raise Refused(409, str(exc)) from None
        queue.submit_run(retry.run_id)
        return RedirectResponse(f"/stores/{quote(store)}/runs/{retry.run_id}", status_code=303)

    tools = PageTools(_store_page, _posted, _render)
    add_settings_routes(router, hub, tools)
    add_inventory_routes(router, hub, queue, tools)
    add_setup_routes(router, hub, tools)
    add_drift_routes(router, hub, queue, tools)
    add_books_routes(router, hub, tools)
    add_help_routes(router, tools)

    @router.get("/stores/{store}/rejected")
    async def rejected(request: Request, store: str, who: ViewerDep) -> Response:
        page = await _store_page(who, store)
        store_id = await run_in_threadpool(resolve_store, hub, store)
        items = await run_in_threadpool(rejected_inputs, hub, store_id)
        return _render(request, "rejected.html", page="rejected", items=items, **page)

    app.include_router(router)


def overview_charts(figures: StoreCharts) -> list[Markup]:
    """The overview's charts over the last ``charts.DAYS`` days (store time)."""
    labels = [day.strftime("%m-%d") for day in figures.days]
    runs = figures.runs
    return [
        bar_chart(
            "chart-pushed", "Items pushed per day", labels, [("pushed", "pushed", figures.pushed)]
        ),
        bar_chart(
            "chart-posted", "Orders posted per day", labels, [("posted", "posted", figures.posted)]
        ),
        bar_chart(
            "chart-outcomes",
            "Runs per day by outcome",
            labels,
            [(name, name, figures.outcomes[name]) for name in OUTCOMES],
        ),
        dot_chart(
            "chart-durations",
            "Duration of each run (s)",
            [(f"Run {r.run_id}", round(r.seconds, 1), r.status) for r in runs],
            "s",
        ),
        line_chart(
            "chart-lag",
            "Webhook-started runs: request to storefront, median per day (s)",
            labels,
            figures.webhook_lag,
            "s",
        ),
        line_chart(
            "chart-drift", "Drifted SKUs (largest measured per day)", labels, figures.drift, "SKUs"
        ),
    ]


def history_chart(runs: list[RunSummary]) -> Markup:
    """The history page's chart: the duration of each run it lists, oldest first."""
    points = [
        (f"Run {r.id}", round((r.finished_at - r.started_at).total_seconds(), 1), r.status.value)
        for r in reversed(runs)
        if r.started_at is not None and r.finished_at is not None
    ]
    return dot_chart("chart-history", "Duration of these runs (s)", points, "s")


def _status(hub: Hub, store: str) -> dict[str, Any]:
    """The overview's live part: connections, last run per step, the active run's progress
    and the latest finished run with its item errors (the store's status, plus
    ``current`` and ``latest``)."""
    status = store_status(hub, store)[0]
    active = status.active_runs
    current = run_detail(hub, active[0].id) if active else None
    recent = run_history(hub, store, len(active) + 1)
    latest = next((run for run in recent if run.finished_at), None)
    return {**vars(status), "current": current, "latest": latest}


def _escape(text: str) -> str:
    return str(escape(text))
