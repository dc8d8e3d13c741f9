"""Logging in to the dashboard over HTTP, as a browser without JavaScript would."""

from __future__ import annotations

import re

import httpx

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def log_in(client: httpx.Client, user: str, password: str) -> str:
    """Log in and return the session's CSRF token (from the page the login leads to)."""
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "username": user, "password": password},
    )
    assert answer.status_code == 303, answer.text
    landing = client.get(answer.headers["location"], follow_redirects=True)
    return csrf_of(landing.text)
