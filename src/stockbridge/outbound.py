"""Which addresses the hub may call on a user's behalf (the outbound-request policy).

Some URLs the hub requests are chosen by a user, not by the operator: a store's alert
webhook (the settings form), a URL feed, and wherever that feed's server redirects.
Without a rule those requests reach whatever the hub's machine reaches: its own admin
ports, the cloud metadata service at 169.254.169.254, the office network (server-side
request forgery). So every such connection resolves the host once, judges each address,
and connects only to an allowed one.

Refused unless the operator allows them, named by these rules (the first that applies):
``unspecified`` (0.0.0.0, ::), ``loopback`` (127.0.0.0/8, ::1), ``link-local``
(169.254.0.0/16 with the metadata service, fe80::/10), ``multicast``, ``reserved``
(240/4, ::/8 ...), ``private`` (10/8, 172.16/12, 192.168/16, fc00::/7 and the other
ranges ``ipaddress`` calls private), and ``non-global`` (anything else not routable
on the internet, e.g. the shared address space 100.64/10). An IPv6 address that carries
an IPv4 one (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4, Teredo) is
judged by the IPv4 address too.

The operator allows addresses per hub with ``STOCKBRIDGE_OUTBOUND_ALLOW``: comma-separated
rule names and/or networks, e.g. ``loopback`` (the demo and the tests, whose partners run
on 127.0.0.1) or ``10.20.0.0/16, fd00:1::/64`` (an ERP on the office network).

Enforcement (``guarded_transport``): an httpx transport whose network backend resolves
the host, judges every address and opens the TCP connection to an allowed *address*
itself, so the address checked is the address connected to: DNS rebinding (a name that
answers a public address to the check and 127.0.0.1 to the connect) has no second lookup
to exploit. A name is refused when any of its addresses is (a public and an internal
answer together is refused whole). Everything above TCP stays httpx's: the Host header
is the URL's host, and TLS sends it as SNI and verifies the certificate for it. Each
connection is checked, so each redirect hop is as well; env proxies are not used (they
would connect for us). ``check_url`` runs the same judgement ahead of time, for a form
saving a URL.

Errors: ``OutboundRefused`` (a ``ValueError``) names the host, the address and the rule.
It is deliberately not an ``httpx.TransportError``: a refusal is not worth retrying.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

__all__ = [
    "RULES",
    "OutboundPolicy",
    "OutboundRefused",
    "Resolver",
    "guarded_transport",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host, port -> the addresses (text) the host resolves to.
Resolver = Callable[[str, int], list[str]]

RULES = (
    "unspecified",
    "loopback",
    "link-local",
    "multicast",
    "reserved",
    "private",
    "non-global",
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
SETTING = "STOCKBRIDGE_OUTBOUND_ALLOW"


class OutboundRefused(ValueError):
    """The policy refuses a URL or address; the message names the rule (safe to show)."""


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses as the system resolves them (a literal address is itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]).split("%")[0], None)
    return list(seen)


def _rule_of(address: Address) -> str | None:
    """The rule that forbids ``address``, or None for a global unicast address."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-global"
    return None


def _judged(address: Address) -> list[Address]:
    """What is judged for ``address``: an IPv4-mapped IPv6 address is its IPv4 address;
    another IPv6 address carrying an IPv4 one (NAT64, 6to4, Teredo) is judged by both,
    the IPv4 one first (it names the rule)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    found: list[Address] = []
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return [*found, address]


@dataclass(frozen=True)
class OutboundPolicy:
    """The rules and networks the operator allows (nothing by default) and how names
    are resolved (``resolver``: the system's; tests pass their own)."""

    allowed_rules: frozenset[str] = frozenset()
    allowed_networks: tuple[Network, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def parse(cls, setting: str | None, *, resolver: Resolver = system_resolver) -> OutboundPolicy:
        """From ``STOCKBRIDGE_OUTBOUND_ALLOW``; ValueError names an entry that is neither
        a rule nor a network."""
        rules: set[str] = set()
        networks: list[Network] = []
        for entry in (setting or "").replace(";", ",").split(","):
            entry = entry.strip().lower()
            if not entry:
                continue
            if entry in RULES:
                rules.add(entry)
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(
                    f"{SETTING}: {entry!r} is neither a network (10.0.0.0/8, fd00::/8) "
                    f"nor one of {', '.join(RULES)}"
                ) from None
        return cls(frozenset(rules), tuple(networks), resolver)

    def refusal(self, address: str) -> str | None:
        """Why ``address`` may not be called (its rule), or None if it may."""
        for candidate in _judged(ipaddress.ip_address(address)):
            if any(candidate in network for network in self.allowed_networks):
                continue
            rule = _rule_of(candidate)
            if rule is not None and rule not in self.allowed_rules:
                return rule
        return None

    def addresses(self, host: str, port: int) -> list[str]:
        """The host's addresses, in the resolver's order, when this policy allows every
        one of them; raises ``OutboundRefused`` naming the first refused address and its
        rule otherwise. A name answering a public and an internal address at once is
        refused whole: which one a client would use is not ours to guess."""
        found = self.resolver(host.strip("[]"), port)
        if not found:
            raise OutboundRefused(f"{host} resolves to no address")
        refused = [(a, r) for a in found if (r := self.refusal(a)) is not None]
        if not refused:
            return found
        address, rule = refused[0]
        named = host if host.strip("[]") == address else f"{host} ({address})"
        raise OutboundRefused(
            f"{named} is a {rule} address: the hub does not call {rule} addresses for a "
            f"store unless the operator allows them ({SETTING}={rule} or a network)"
        )

    def check_url(self, url: str) -> None:
        """Judge a URL as its connection would be, resolving the host now; raises
        ``OutboundRefused``. For forms saving a URL: a name that does not resolve at the
        moment passes (nothing can be judged; DNS may be down), as the connection is
        judged again whenever it is made."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise OutboundRefused(f"only http(s) URLs are called, not {parsed.scheme or url!r}")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            self.addresses(parsed.host, port)
        except httpcore.ConnectError:
            return


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to an address the policy allows, never to the name (see the module)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in self.policy.addresses(host, port):
            try:
                return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses() returns at least one address
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise OutboundRefused("unix sockets are not called on a store's behalf")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport (request/response handling, error mapping) over a
    connection pool whose network backend is ``_PinnedBackend``."""

    def __init__(
        self, policy: OutboundPolicy, verify: ssl.SSLContext | bool, limits: httpx.Limits
    ) -> None:
        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        super().__init__(verify=context, trust_env=False, limits=limits)
        # httpx takes no network backend; its pool is swapped for one that has ours
        # (test_outbound's pinning tests fail if a new httpx stops using it).
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(policy),
        )


def guarded_transport(
    policy: OutboundPolicy,
    *,
    verify: ssl.SSLContext | bool = True,
    limits: httpx.Limits | None = None,
) -> httpx.BaseTransport:
    """An httpx transport that connects only where ``policy`` allows (see the module)."""
    return _GuardedTransport(policy, verify, limits or httpx.Limits())
