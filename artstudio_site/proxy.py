"""The client's address, believing forwarded headers only from trusted peers.

A client can put anything in ``X-Forwarded-For`` or ``X-Forwarded-Proto``.
They are believed only when the request comes from a peer inside one of the
``STUDIO_TRUSTED_PROXIES`` networks (the reverse proxy's, e.g. compose's
nginx network); from any other peer they are removed from the request before
anything reads them, so a client that reaches gunicorn directly can neither
pick the address its login attempts are counted under nor claim HTTPS.

``ClientAddressMiddleware`` puts the address on every request as
``request.client_ip``, and ``request.via_proxy`` (did any proxy header come
with it, trusted or not); the gallery reads those attributes and never
imports this module. django-axes (login lockout) calls :func:`client_ip`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Headers a proxy sets about the client; untrusted peers lose them.
FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_SSL",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR strings (a bare address is a /32 or /128) as networks; raises
    ValueError naming a bad entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"not an address or CIDR network: {value.strip()!r}"
            ) from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(values)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "STUDIO_TRUSTED_PROXIES", ())))


def peer_is_trusted(request: HttpRequest) -> bool:
    """Did the request come straight from one of the trusted proxies?"""
    networks = _trusted_networks()
    return bool(networks) and _trusted(request.META.get("REMOTE_ADDR", ""), networks)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or, from a trusted proxy, the first address in
    X-Forwarded-For counted from the right that is not a trusted proxy
    itself (each proxy appends the address it received the request from)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    networks = _trusted_networks()
    if not networks or not _trusted(remote, networks):
        return remote
    hops = [
        hop.strip()
        for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote  # garbage where an address should be
    return hops[0] if hops else remote


class ClientAddressMiddleware:
    """Drop forwarded headers from untrusted peers, then resolve the client
    address once per request: ``request.client_ip``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.via_proxy = any(header in request.META for header in FORWARDED_HEADERS)
        if not peer_is_trusted(request):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        request.client_ip = client_ip(request)
        return self.get_response(request)
