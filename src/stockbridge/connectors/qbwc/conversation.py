"""A Web Connector session as the hub's two sides see it.

The Web Connector pulls: it calls ``sendRequestXML`` for the next qbXML request and
``receiveResponseXML`` with QuickBooks' answer. The hub's sync steps, on the other hand,
call a back office and wait for its answer. A ``Conversation`` joins the two: a sync run
(in a worker thread) hands a request to ``exchange`` and waits; the SOAP endpoint (in a
request thread) takes it with ``next_request`` and hands the answer back with
``deliver``. Every wait is bounded; a session that goes away (the Web Connector stopped
calling, a new session of the same store began, QuickBooks could not be reached) closes
the conversation, and a run waiting on it gets ``ConversationClosed`` at once: its orders
stay ``uncertain`` and are looked up by the next session before anything is sent again.

Nothing here is durable, on purpose: the work of a session is derived from the hub's
database (orders not posted, the inventory cursor) each time, so a conversation lost with
the process loses nothing.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from stockbridge.connectors.errors import TransientPartnerError

__all__ = ["BROKER", "Broker", "Conversation", "ConversationClosed"]

PARTNER = "quickbooks-web-connector"


class ConversationClosed(TransientPartnerError):
    """The Web Connector session ended before QuickBooks' answer came back: whether the
    request was applied is unknown."""

    def __init__(self, message: str) -> None:
        super().__init__(message, partner=PARTNER, code="session_closed")


@dataclass
class Conversation:
    """One Web Connector session of one store's back-office connection."""

    ticket: str
    store_id: int
    connection_id: int
    #: How long the SOAP side waits for the run to have the next request ready.
    ready_seconds: float = 30.0
    #: How long the run waits for QuickBooks' answer to one request.
    answer_seconds: float = 300.0
    state: str = "open"  # open | finished (no more requests) | closed
    reason: str = ""
    last_error: str = ""
    percent: int = 0
    exchanges: int = 0
    started: float = field(default_factory=time.monotonic)
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _request: str | None = field(default=None, repr=False)
    _awaiting: bool = field(default=False, repr=False)
    _answer: str | None = field(default=None, repr=False)

    # -- the run's side ---------------------------------------------------------------

    def exchange(self, request: str) -> str:
        """Hand ``request`` to the Web Connector and wait for QuickBooks' answer. Raises
        ``ConversationClosed`` when the session ends (or no answer comes) first."""
        with self._cond:
            if self.state != "open":
                raise ConversationClosed(self.reason or "the Web Connector session has ended")
            self._request, self._answer = request, None
            self._cond.notify_all()
            answered = self._cond.wait_for(
                lambda: self._answer is not None or self.state == "closed", self.answer_seconds
            )
            if self._answer is not None:
                answer, self._answer = self._answer, None
                return answer
            if not answered:
                self._close_locked(
                    f"no answer from the Web Connector within {self.answer_seconds:g} s"
                )
            self._request = None
            raise ConversationClosed(self.reason)

    def finish(self) -> None:
        """The run has nothing more to ask in this session."""
        with self._cond:
            if self.state == "open":
                self.state = "finished"
                self._cond.notify_all()

    def progress(self, percent: int) -> None:
        self.percent = max(0, min(99, percent))

    # -- the SOAP side ----------------------------------------------------------------

    def next_request(self) -> str | None:
        """The next request for the Web Connector; None when there is none (the session
        is done, or the run had nothing ready in time: ``last_error`` says which)."""
        with self._cond:
            ready = self._cond.wait_for(
                lambda: self._request is not None or self.state != "open", self.ready_seconds
            )
            if self._request is not None and not self._awaiting:
                request, self._request, self._awaiting = self._request, None, True
                return request
            if self.state == "open" and not ready:
                self.last_error = (
                    "Stockbridge had no request ready in time (another sync of this store "
                    "was still running); the next update continues"
                )
                self._close_locked(self.last_error)
            elif self.state == "closed" and not self.last_error:
                self.last_error = self.reason
            return None

    def deliver(self, answer: str) -> int:
        """QuickBooks' answer to the request last handed out; returns the percent done
        for ``receiveResponseXML`` (100: done; negative: see ``last_error``)."""
        with self._cond:
            if not self._awaiting or self.state == "closed":
                self.last_error = self.reason or "a response to no request of this session"
                return -1
            self._awaiting = False
            self._answer = answer
            self.exchanges += 1
            self._cond.notify_all()
            ready = self._cond.wait_for(
                lambda: self._request is not None or self.state != "open", self.ready_seconds
            )
            if self._request is not None:
                return max(1, self.percent)
            if self.state == "finished":
                return 100
            if not ready:
                self.last_error = (
                    "Stockbridge took too long to apply the answer; the next update continues"
                )
                self._close_locked(self.last_error)
            elif not self.last_error:
                self.last_error = self.reason
            return -1

    def fail(self, message: str) -> None:
        """QuickBooks could not answer (the Web Connector's hresult and message, or
        ``connectionError``): the waiting run learns it at once."""
        with self._cond:
            self._awaiting = False
            self.last_error = message
            self._close_locked(message)

    def close(self, reason: str) -> None:
        with self._cond:
            self._close_locked(reason)

    def _close_locked(self, reason: str) -> None:
        if self.state != "closed":
            self.state, self.reason = "closed", reason
            self._request = None
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self.state == "closed"


class Broker:
    """The open conversations of this process: by ticket (the SOAP side) and by
    connection (the connector a run builds). One per connection: a new session of the
    same store closes the one before (its Web Connector gave up on it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_ticket: dict[str, Conversation] = {}
        self._by_connection: dict[int, Conversation] = {}

    def open(
        self,
        store_id: int,
        connection_id: int,
        *,
        ready_seconds: float = 30.0,
        answer_seconds: float = 300.0,
    ) -> Conversation:
        conversation = Conversation(
            secrets.token_urlsafe(24),
            store_id,
            connection_id,
            ready_seconds=ready_seconds,
            answer_seconds=answer_seconds,
        )
        with self._lock:
            previous = self._by_connection.get(connection_id)
            self._by_connection[connection_id] = conversation
            self._by_ticket[conversation.ticket] = conversation
            if previous is not None:
                self._by_ticket.pop(previous.ticket, None)
        if previous is not None:
            previous.close("a new Web Connector session of this store began")
        return conversation

    def by_ticket(self, ticket: str) -> Conversation | None:
        with self._lock:
            return self._by_ticket.get(ticket)

    def live(self, connection_id: int) -> Conversation | None:
        """The open session of a connection, if any (a run built now uses it)."""
        with self._lock:
            conversation = self._by_connection.get(connection_id)
        if conversation is None or conversation.state != "open":
            return None
        return conversation

    def end(self, ticket: str, reason: str) -> Conversation | None:
        with self._lock:
            conversation = self._by_ticket.pop(ticket, None)
            if conversation is not None and (
                self._by_connection.get(conversation.connection_id) is conversation
            ):
                del self._by_connection[conversation.connection_id]
        if conversation is not None:
            conversation.close(reason)
        return conversation


#: This process's conversations (the SOAP routes and the connectors runs build share it).
BROKER = Broker()
