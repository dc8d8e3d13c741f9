"""The shared partner transport: limiter pacing and windows, retries, error sorting."""

from __future__ import annotations

import httpx
import pytest

from stockbridge.connectors.errors import PartnerAuthError, TransientPartnerError
from stockbridge.connectors.http import PartnerHttp
from stockbridge.connectors.ratelimit import QuotaReport, RateLimiter, Window
from stockbridge.retry import RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_windows_hold_requests_to_the_documented_rates() -> None:
    clock = FakeClock()
    limiter = RateLimiter([Window(10, 1.0), Window(500, 60.0)], clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(1200):
        with limiter.slot():
            starts.append(clock.now)
    for i in range(len(starts) - 10):
        assert starts[i + 10] - starts[i] >= 1.0 - 1e-9
    for i in range(len(starts) - 500):
        assert starts[i + 500] - starts[i] >= 60.0 - 1e-9


def test_quota_headers_let_what_the_window_has_left_go_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    with limiter.slot():
        pass
    limiter.observe(QuotaReport(left=11, quota=150, reset_seconds=10.0))
    for _ in range(10):  # 11 left, 1 kept in reserve for the store's other apps
        with limiter.slot():
            pass
    assert clock.slept == []  # the burst went without waiting
    with limiter.slot():
        pass
    assert clock.slept == [pytest.approx(10.0, abs=0.02)]  # the 11th waited for the reset
    limiter.observe(QuotaReport(left=1, quota=150, reset_seconds=4.0))
    with limiter.slot():
        pass
    assert clock.now == pytest.approx(14.0, abs=0.04)  # nothing usable left: wait for the reset
    with limiter.slot():  # a new window the partner has not reported on yet
        pass
    assert len(clock.slept) == 2


def test_requests_still_in_flight_count_against_what_is_left() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    with limiter.slot(), limiter.slot(), limiter.slot():
        # the third one's answer: 5 left, the other two may not be counted yet
        limiter.observe(QuotaReport(left=5, quota=150, reset_seconds=3.0))
    for _ in range(2):  # 5 - 1 reserve - 2 in flight
        with limiter.slot():
            pass
    assert clock.slept == []
    with limiter.slot():
        pass
    assert clock.slept == [pytest.approx(3.0, abs=0.02)]


def test_pause_after_429() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.pause(7.5)
    with limiter.slot():
        pass
    assert clock.now == pytest.approx(7.5)


def client_for(
    responses: list[httpx.Response | Exception],
) -> tuple[PartnerHttp, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    clock = FakeClock()
    http = PartnerHttp(
        partner="p",
        client=httpx.Client(base_url="https://p.example", transport=httpx.MockTransport(handle)),
        limiter=RateLimiter(clock=clock, sleep=clock.sleep),
        retry=RetryPolicy(attempts=3, base_delay=0, sleep=lambda _s: None),
        retry_after=lambda r: float(r.headers.get("Retry-After", "1")),
    )
    return http, seen


def test_5xx_and_resets_are_retried_within_bounds() -> None:
    http, seen = client_for([httpx.Response(503), httpx.ReadError("reset"), httpx.Response(200)])
    assert http.request("GET", "/x").status_code == 200
    assert len(seen) == 3
    http, seen = client_for([httpx.Response(502)] * 5)
    with pytest.raises(TransientPartnerError) as caught:
        http.request("GET", "/x")
    assert caught.value.code == "502" and len(seen) == 3


def test_unsafe_writes_are_not_repeated_after_an_uncertain_failure() -> None:
    http, seen = client_for([httpx.ReadError("reset after sending"), httpx.Response(200)])
    with pytest.raises(TransientPartnerError, match="ReadError"):
        http.request("POST", "/create", json={}, idempotent=False)
    assert len(seen) == 1
    # a refused connection never reached the partner: safe to try again
    http, seen = client_for([httpx.ConnectError("refused"), httpx.Response(201)])
    assert http.request("POST", "/create", json={}, idempotent=False).status_code == 201


def test_429_waits_as_told_then_goes_on() -> None:
    http, seen = client_for(
        [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)]
    )
    assert http.request("GET", "/x").status_code == 200
    assert http.counter.throttled == 1 and len(seen) == 2


def test_401_is_an_auth_error_and_4xx_goes_back_to_the_caller() -> None:
    http, _ = client_for([httpx.Response(401, text="bad token")])
    with pytest.raises(PartnerAuthError):
        http.request("GET", "/x")
    http, _ = client_for([httpx.Response(422, json={"title": "bad"})])
    assert http.request("GET", "/x").status_code == 422


def test_request_log_lines_carry_no_query_string(caplog: pytest.LogCaptureFixture) -> None:
    http, _ = client_for([httpx.Response(200)])
    with caplog.at_level("INFO", logger="stockbridge.partner"):
        http.request("GET", "/v3/things", params={"access_token": "s3cret"})
    assert "/v3/things" in caplog.text and "s3cret" not in caplog.text
