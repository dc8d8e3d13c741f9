"""Everything the dashboard does, the API does too (the README says so): every form route
of the dashboard has an API twin in the OpenAPI document, and every field of every form
rendered on a set-up store's pages is a field (or path parameter) of its twin. A new form
without a twin, a twin that went away, or a form field the API cannot take fails here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from stockbridge import accounts, services
from tests.conftest import Harness
from tests.dashboard_helpers import log_in
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import Running, start_service

PASSWORD = "correct horse battery"
#: Form fields that are no data: the CSRF token, where a list page goes back to.
PLUMBING = {"csrf_token", "q"}
#: POST routes that are no merchant's form: sessions (the API uses tokens) and the Web
#: Connector's SOAP calls.
NOT_FORMS = {"/login", "/logout", "/qbwc"}
S = "/api/v1/stores/{store}"

#: dashboard form route -> (API method, API path, form field -> API field). An API field
#: "path:x" is the twin's path parameter x; "twin" means the field chooses the twin
#: (the feed form's Test this source button is the preview route).
TWINS: dict[str, tuple[str, str, dict[str, str]]] = {
    "/setup": (
        "post",
        "/api/v1/stores",
        {"name": "name", "timezone": "timezone", "inventory_source": "inventory_source"},
    ),
    "/stores/{store}/sync": ("post", f"{S}/sync", {"steps": "steps"}),
    "/stores/{store}/preview": ("post", f"{S}/sync", {}),  # "dry_run": true
    "/stores/{store}/runs/{run_id}/retry": ("post", f"{S}/runs/{{run_id}}/retry", {}),
    "/stores/{store}/settings": (
        "patch",
        f"{S}/settings",
        {
            "inventory_source": "inventory_source",
            "erp_name": "erp_name",
            "timezone": "timezone",
            "sync_all_button": "sync_all_button",
            "alert_email": "alert_email",
            "alert_webhook": "alert_webhook_url",
            "clear_alert_webhook": "alert_webhook_url",
            "stale_after_hours": "stale_after_hours",
            "failing_item_runs": "failing_item_runs",
            "pending_order_hours": "pending_order_hours",
            "drift_threshold": "drift_threshold",
        },
    ),
    "/stores/{store}/books": (
        "patch",
        f"{S}/books",
        {
            "customer_mode": "customer_mode",
            "cancel_as": "cancel_as",
            "deposit_account": "deposit_account",
            "payment_methods": "payment_methods",
            "status_after_post": "status_after_post",
        },
    ),
    "/stores/{store}/catalog": (
        "patch",
        f"{S}/settings",
        {
            "create_new": "catalog_create_new",
            "new_visible": "catalog_new_visible",
            "price_source": "catalog_price_source",
            "push_names": "catalog_push_names",
            "inactive": "catalog_inactive",
        },
    ),
    "/stores/{store}/schedule": (
        "put",
        f"{S}/schedules/{{step}}",
        {
            "enabled": "enabled",
            "daily_at": "daily_at",
            "every_minutes": "every_minutes",
            "business_days": "business_days",
            "holidays": "holidays",
        },
    ),
    "/stores/{store}/setup/schedule": (
        "put",
        f"{S}/schedules/{{step}}",
        {
            "enabled": "enabled",
            "daily_at": "daily_at",
            "every_minutes": "every_minutes",
            "business_days": "business_days",
        },
    ),
    "/stores/{store}/drift/repair": ("post", f"{S}/drift/repair", {}),
    # A drift check (a POST since it reads the partner and records a check) and its CSV:
    # the API's twin answers every entry; the form's kind/q filters pick from its entries.
    "/stores/{store}/drift": ("get", f"{S}/drift", {}),
    "/stores/{store}/drift.csv": ("get", f"{S}/drift", {}),
    "/stores/{store}/setup/web": (
        "put",
        f"{S}/connections/web",
        {"store_hash": "store_hash", "access_token": "access_token", "api_url": "api_url"},
    ),
    "/stores/{store}/setup/feed": (
        "put",
        f"{S}/connections/feed",
        {
            **{
                f: f
                for f in [
                    "source",
                    "format",
                    "sku_field",
                    "quantity_field",
                    "location_field",
                    "price_field",
                    "name_field",
                    "delimiter",
                    "missing",
                    "auth",
                    "token",
                    "username",
                    "password",
                ]
            },
            "action": "twin",
        },
    ),
    "/stores/{store}/setup/qbwc": (
        "put",
        f"{S}/connections/qbwc",
        {"flavour": "flavour", "app_url": "app_url", "every_minutes": "every_minutes"},
    ),
    "/stores/{store}/setup/user": (
        "post",
        "/api/v1/users",
        {"username": "name", "password": "password", "role": "operator"},
    ),
    "/stores/{store}/tokens": ("post", "/api/v1/tokens", {"expires_in_days": "expires_in_days"}),
    "/stores/{store}/tokens/{token_id}/revoke": ("delete", "/api/v1/tokens/{token_id}", {}),
    "/stores/{store}/inventory/hub-quantity": (
        "put",
        f"{S}/products/{{sku}}/hub-quantity",
        {"sku": "path:sku", "quantity": "quantity"},
    ),
    "/stores/{store}/inventory/assign": (
        "post",
        f"{S}/products/assigned",
        {"sku": "skus", "action": "twin"},  # unassign: DELETE on the same path
    ),
    "/stores/{store}/inventory/source": (
        "put",
        f"{S}/products/{{sku}}/source",
        {"sku": "path:sku", "source": "source"},
    ),
    "/oauth/qbo/disconnect": ("delete", f"{S}/connections/{{role}}", {}),
}
#: The feed form's other twin: "Test this source".
EXTRA_TWINS = [("post", f"{S}/connections/feed/preview"), ("delete", f"{S}/products/assigned")]


class _Forms(HTMLParser):
    """Each POST form of a page: its action and the names of its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, set[str]]] = []
        self._open: tuple[str, set[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "get").lower() == "post":
            self._open = (str(found.get("action")), set())
            self.forms.append(self._open)
        elif tag in ("input", "select", "textarea", "button") and self._open and found.get("name"):
            self._open[1].add(str(found["name"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


@pytest.fixture
def running(sqlite_harness: Harness) -> Iterator[Running]:
    web, bo = FakeWebStore(), FakeBackOffice()
    web.add_variant("TEE-1", 0, name="Tee")
    bo.set_item("TEE-1", 5)
    sqlite_harness.add_store("shop", web=web, back_office=bo)
    hub = sqlite_harness.hub
    with hub.uow() as uow:
        uow.catalog.set_hub_managed(1, "TEE-1", 4)
        uow.commit()
    services.set_schedule(hub, "shop", daily_at="01:00")
    accounts.add_user(hub, "op", PASSWORD, operator=True)
    r = start_service(hub)
    yield r
    r.stop()


def _openapi(r: Running) -> dict[str, Any]:
    answer = httpx.get(f"{r.server.url}/openapi.json", timeout=30)
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def _body_fields(document: dict[str, Any], method: str, path: str) -> set[str]:
    operation = document["paths"][path][method]
    fields = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
    fields = {f"path:{name}" for name in fields}
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    for option in schema.get("anyOf", [schema]):
        ref = option.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            fields |= set(document["components"]["schemas"][name].get("properties", {}))
    return fields


def _route_of(action: str, patterns: list[str]) -> str:
    """The route pattern an action path matches (segments in braces match any)."""
    parts = action.split("?")[0].split("/")
    for pattern in patterns:
        wanted = pattern.split("/")
        if len(wanted) == len(parts) and all(
            w.startswith("{") or w == p for w, p in zip(wanted, parts, strict=True)
        ):
            return pattern
    raise AssertionError(f"no route for the form action {action!r}")


def _routes(routes: Iterable[object], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, through included routers (FastAPI 0.165 keeps an
    included router whole, with its prefix, instead of copying its routes)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, set(route.methods or ())
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]


def test_every_dashboard_form_route_has_an_api_twin(running: Running) -> None:
    posted = {
        path
        for path, methods in _routes(running.service.app.routes)
        if "POST" in methods
        and not path.startswith(("/api/", "/webhooks/"))
        and path not in NOT_FORMS
    }
    assert posted == set(TWINS), (
        f"forms without a twin: {sorted(posted - set(TWINS))}; "
        f"twins of no form: {sorted(set(TWINS) - posted)}"
    )
    document = _openapi(running)
    for form, (method, path, _fields) in TWINS.items():
        assert method in document["paths"].get(path, {}), (form, method, path)
    for method, path in EXTRA_TWINS:
        assert method in document["paths"].get(path, {}), (method, path)


def test_every_field_of_every_rendered_form_is_taken_by_its_twin(running: Running) -> None:
    document = _openapi(running)
    browser = httpx.Client(base_url=running.server.url, timeout=30)
    seen: set[str] = set()
    with browser:
        log_in(browser, "op", PASSWORD)
        pages = ["/setup"] + [
            f"/stores/shop{p}"
            for p in ("", "/settings", "/setup", "/tokens", "/history", "/inventory?q=TEE")
        ]
        for page in pages:
            answer = browser.get(page)
            assert answer.status_code == 200, (page, answer.text)
            parser = _Forms()
            parser.feed(answer.text)
            for action, fields in parser.forms:
                if action == "/logout":
                    continue
                route = _route_of(action, list(TWINS))
                seen.add(route)
                method, path, names = TWINS[route]
                takes = _body_fields(document, method, path)
                for field in fields - PLUMBING:
                    assert field in names, f"{page}: {route} has a field {field!r} with no twin"
                    twin = names[field]
                    assert twin == "twin" or twin in takes, (route, field, twin, sorted(takes))
    # the walk reached the forms that carry data (the rest are buttons)
    assert {
        "/setup",
        "/stores/{store}/settings",
        "/stores/{store}/books",
        "/stores/{store}/catalog",
        "/stores/{store}/schedule",
        "/stores/{store}/setup/web",
        "/stores/{store}/setup/feed",
        "/stores/{store}/setup/qbwc",
        "/stores/{store}/setup/schedule",
        "/stores/{store}/setup/user",
        "/stores/{store}/tokens",
        "/stores/{store}/inventory/hub-quantity",
        "/stores/{store}/inventory/assign",
        "/stores/{store}/inventory/source",
        "/stores/{store}/sync",
        "/stores/{store}/preview",
    } <= seen, sorted(seen)
