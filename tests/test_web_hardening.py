"""The HTTP surface's hardening: /metrics names no store without its token, run ids
beyond 64 bits are refused (not a 500), any oversized body is 413 (chunked too), and
every response carries nosniff and a strict Content-Security-Policy (HSTS over https)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from stockbridge import accounts, services
from stockbridge.runtime import Service
from stockbridge.web.app import MAX_BODY_BYTES
from tests.conftest import Harness
from tests.dashboard_helpers import log_in
from tests.service_helpers import Running, start_service

PASSWORD = "correct horse battery"
STORE = "acme-wholesale-private"
TEMPLATES = Path(__file__).parents[1] / "src/stockbridge/web/dashboard/templates"


@pytest.fixture
def running(sqlite_harness: Harness) -> Iterator[Running]:
    hub = sqlite_harness.hub
    services.add_store(hub, STORE)
    accounts.add_user(hub, "ann", PASSWORD, operator=True)
    running = start_service(hub)
    yield running
    running.server.stop()
    running.service.stop()


def serve_with(sqlite_harness: Harness, **settings: object) -> Running:
    for key, value in settings.items():
        setattr(sqlite_harness.hub.settings, key, value)
    services.add_store(sqlite_harness.hub, STORE)
    return start_service(sqlite_harness.hub)


# /metrics -------------------------------------------------------------------------


def test_metrics_without_a_token_name_no_store(running: Running) -> None:
    with running.client() as anon:
        text = anon.get("/metrics").text
    assert "stockbridge_inbox_depth" in text and "stockbridge_sync_lag_max_seconds" in text
    assert STORE not in text and 'store="' not in text


def test_metrics_with_a_token_are_for_its_holder_only(sqlite_harness: Harness) -> None:
    running = serve_with(sqlite_harness, metrics_token=SecretStr("scrape-me-0123"))
    try:
        with running.client() as anon:
            refused = anon.get("/metrics")
            wrong = anon.get("/metrics", headers={"Authorization": "Bearer scrape-me-0124"})
            api_token = anon.get("/metrics", headers={"Authorization": f"Bearer {running.token()}"})
        with running.client("scrape-me-0123") as scraper:
            allowed = scraper.get("/metrics")
    finally:
        running.server.stop()
        running.service.stop()
    for answer in (refused, wrong, api_token):
        assert answer.status_code == 401 and STORE not in answer.text
        assert "metrics token" in answer.json()["error"]
    assert allowed.status_code == 200
    assert f'stockbridge_sync_lag_seconds{{store="{STORE}"}}' in allowed.text


# ids and bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["99999999999999999999", str(2**63)])
def test_a_run_id_beyond_64_bits_is_invalid_input(running: Running, run_id: str) -> None:
    with running.client(running.token()) as api:
        answer = api.get(f"/api/v1/stores/{STORE}/runs/{run_id}")
        assert answer.status_code == 422
        assert answer.json()["error"].startswith("path.run_id: Input should be less than")
        assert api.get(f"/api/v1/stores/{STORE}/runs/{2**63 - 1}").status_code == 404
    with running.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        page = browser.get(f"/stores/{STORE}/runs/{run_id}")
        assert page.status_code == 422 and "run_id" in page.text
        retry = browser.post(f"/stores/{STORE}/runs/{run_id}/retry", data={"csrf_token": csrf})
        assert retry.status_code == 422
        assert browser.get(f"/stores/{STORE}/runs/{2**63 - 1}").status_code == 404


def chunks(total: int, size: int = 64_000) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length): a JSON document ``total`` bytes long."""
    head, tail = b'{"items": [{"sku": "A", "quantity": 1}], "pad": "', b'"}'
    yield head
    left = total - len(head) - len(tail)
    while left > 0:
        yield b"x" * min(size, left)
        left -= size
    yield tail


def test_an_oversized_chunked_body_is_413(running: Running) -> None:
    path = f"/api/v1/stores/{STORE}/inventory"
    with running.client(running.token()) as api:
        json = {"Content-Type": "application/json"}
        big = api.post(path, content=chunks(MAX_BODY_BYTES + 1000), headers=json)
        assert big.status_code == 413 and "over 1000000 bytes" in big.json()["error"]
        small = api.post(path, content=chunks(5_000), headers=json)  # read as usual
        assert small.status_code == 422 and "pad" in small.json()["error"]  # extra field
        declared = api.post(path, content=b"x" * (MAX_BODY_BYTES + 1))
        assert declared.status_code == 413
    with running.client() as browser:
        csrf = log_in(browser, "ann", PASSWORD)
        form = browser.post(
            f"/stores/{STORE}/settings",
            content=chunks(MAX_BODY_BYTES + 1000),
            headers={"X-CSRF-Token": csrf, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 413


# headers -------------------------------------------------------------------------------


def test_every_response_has_nosniff_and_the_strict_policy(running: Running) -> None:
    with running.client() as browser:
        log_in(browser, "ann", PASSWORD)
        answers = {
            "page": browser.get(f"/stores/{STORE}"),
            "login": browser.get("/login"),
            "static js": browser.get("/static/htmx.min.js"),
            "static css": browser.get("/static/dashboard.css"),
            "api 401": browser.get("/api/v1/stores"),
            "404": browser.get("/no/such/page"),
            "webhook": browser.post(f"/webhooks/bigcommerce/{STORE}", content=b"{}"),
            "metrics": browser.get("/metrics"),
        }
    for what, answer in answers.items():
        assert answer.headers.get("x-content-type-options") == "nosniff", what
        policy = answer.headers.get("content-security-policy", "")
        assert policy.startswith("default-src 'self';"), what
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, what
        assert "strict-transport-security" not in answer.headers, what  # plain http
    assert answers["static js"].status_code == 200 and answers["webhook"].status_code == 401


def test_no_template_has_inline_script_or_style() -> None:
    """default-src 'self' would block them: scripts and styles come from /static."""
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        scripts = re.findall(r"<script\b[^>]*>", text)
        assert all("src=" in tag for tag in scripts), template.name
        assert not re.search(r"javascript:|\son[a-z]+=|<style|\sstyle=", text), template.name


def test_hsts_over_https_or_when_the_operator_says(sqlite_harness: Harness) -> None:
    hub = sqlite_harness.hub

    def hsts(base_url: str) -> str | None:
        async def get() -> str | None:
            transport = httpx.ASGITransport(app=service.app)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                response = await client.get("/healthz")
                value: str | None = response.headers.get("strict-transport-security")
                return value

        service = Service(hub)
        try:
            return asyncio.run(get())
        finally:
            service.stop()

    assert hsts("https://hub.example") == "max-age=31536000"
    assert hsts("http://hub.example") is None
    hub.settings.hsts = True  # behind a TLS proxy the operator did not list
    assert hsts("http://hub.example") == "max-age=31536000"
