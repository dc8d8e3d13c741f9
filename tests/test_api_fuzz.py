"""schemathesis against /openapi.json of a running hub: whatever it generates for each
operation, with and without a token, the API never answers 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation

from stockbridge import services
from stockbridge.domain.model import InventorySource
from tests.conftest import make_harness
from tests.fakes import FakeBackOffice, FakeWebStore
from tests.service_helpers import Running, start_service

Operation = APIOperation[Any, Any, Any, Any]


def _loaded(result: Ok[Operation] | Err[InvalidSchema]) -> Operation:
    """The operation schemathesis read, or the reason it could not read it, raised."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = Path(tmp_path_factory.mktemp("fuzz"))
    harness = make_harness(tmp, f"sqlite:///{tmp / 'hub.db'}")
    web, bo = FakeWebStore(), FakeBackOffice()
    for sku in ("A", "B"):
        web.add_variant(sku, 0)
        bo.set_item(sku, 3)
    harness.add_store("shop", source=InventorySource.API, web=web, back_office=bo)
    services.sync(harness.hub, "shop")
    r = start_service(harness.hub)
    yield r
    r.server.stop()
    r.service.stop()


def test_api_never_answers_5xx(running: Running) -> None:
    token = running.token("shop")
    schema = schemathesis.openapi.from_dict(httpx.get(f"{running.server.url}/openapi.json").json())
    operations = [_loaded(result) for result in schema.get_all_operations()]
    assert len(operations) >= 7
    seen: list[str] = []
    for operation in operations:

        @settings(
            max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case: Case[Operation]) -> None:
            for headers in ({"Authorization": f"Bearer {token}"}, {}):
                response = case.call(base_url=running.server.url, headers=headers)
                assert response.status_code < 500, (
                    case.method,
                    case.formatted_path,
                    response.status_code,
                    response.text[:300],
                )

        check()
        seen.append(f"{operation.method.upper()} {operation.path}")
    assert any("inventory" in s for s in seen)
