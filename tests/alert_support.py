"""Alert channels on loopback for tests: a local SMTP server (aiosmtpd) and a webhook
receiver (Starlette). Import the fixture functions (``smtp_server``, ``webhook_receiver``,
``http_client``, ``clean_channels``) to use the ``smtp``, ``receiver``, ``http`` and
``clean`` fixtures."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.alerts import EmailNotifier
from stockbridge.config import Settings
from stockbridge.sandbox_server import ServerThread

SECRET_PATH = "/hooks/T0KEN-SECRET"


class MailInbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"

    def take(self) -> list[Message]:
        with self.lock:
            taken, self.messages = self.messages, []
        return taken


class WebhookReceiver:
    """Records JSON POSTs; answers 500 while ``failing`` is positive."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failing = 0
        self.app = Starlette(routes=[Route(SECRET_PATH, self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.json()
        if self.failing:
            self.failing -= 1
            return JSONResponse({"error": "try later"}, status_code=500)
        self.received.append(body)
        return JSONResponse({"ok": True})

    def take(self) -> list[dict[str, Any]]:
        taken, self.received = self.received, []
        return taken


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(name="smtp", scope="module")
def smtp_server() -> Iterator[tuple[MailInbox, int]]:
    inbox = MailInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(name="receiver", scope="module")
def webhook_receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    hooks = WebhookReceiver()
    with ServerThread(hooks.app) as server:
        yield hooks, server.url + SECRET_PATH


@pytest.fixture(name="http")
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def email_notifier(port: int) -> EmailNotifier:
    settings = Settings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="alerts@stockbridge.test",
        smtp_starttls=False,
    )
    return EmailNotifier.from_settings(settings)


@pytest.fixture(name="clean")
def clean_channels(smtp: tuple[MailInbox, int], receiver: tuple[WebhookReceiver, str]) -> None:
    smtp[0].take()
    receiver[0].take()
    receiver[0].failing = 0
