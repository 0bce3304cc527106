"""Which hosts the hub's outbound calls may reach.

People configure where connectors call (an API base URL, a webhook receiver, an
SMTP host), and a ShipStation webhook names a URL to fetch. Left unchecked, a
channel test against ``http://127.0.0.1:…`` or ``169.254.169.254`` would probe
and read services only the hub's own network can reach. So before connecting,
a host is resolved and refused when ANY of its addresses is not a public one
(the connection may take any of them): loopback, link-local, private (RFC 1918,
IPv6 ULA), unspecified, multicast, and the other ranges that are not globally
reachable (carrier-grade NAT, documentation, reserved). An IPv6 address that
embeds an IPv4 one (mapped, NAT64, 6to4, Teredo) is judged by that one too.

The operator may allow such targets (``HUB_ALLOW_PRIVATE_TARGETS=1``): the
demo and the tests do, since their sandboxes listen on 127.0.0.1. Callers
decide whether the check applies (``ChannelInfo.allow_private_targets``);
:class:`hub.integration.http.HttpClient` makes it for every HTTP request, the
email connector before it connects.

The host is resolved again when the connection is made, so a name whose
answers change between the two lookups (DNS rebinding) is not caught here.
"""

from __future__ import annotations

import ipaddress
import socket

from hub.core.exceptions import ExternalError

#: The setting that turns the check off.
ALLOW_ENV = "HUB_ALLOW_PRIVATE_TARGETS"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ExternalError):
    """An outbound target on a non-public address: refused unsent, never retried.

    It says the same whatever the port, so it tells nothing of what listens there.
    """

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


def non_public_kind(address: str | IPAddress) -> str | None:
    """What kind of non-public address this is ("loopback", "private" …), None when public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    for judged in _judged(ip):
        kind = _kind(judged)
        if kind is not None:
            return kind
    return None


def _judged(ip: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address it carries, each of which must be public."""
    if isinstance(ip, ipaddress.IPv4Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    carried: list[IPAddress] = [ip]
    if ip.sixtofour is not None:
        carried.append(ip.sixtofour)
    if ip.teredo is not None:
        carried.extend(ip.teredo)
    return carried


def _kind(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


def refuse_non_public(host: str, *, what: str) -> None:
    """Raise :class:`TargetRefused` when ``host`` is, or resolves to, a non-public address.

    :param what: who is calling, the message's first word (the connector's name, ``SMTP``).
    :raises OSError: (``socket.gaierror``) when the host cannot be resolved; the
        caller treats it as the connection failure it would have been.
    """
    literal = _literal(host)
    addresses = (
        [literal]
        if literal is not None
        else [
            ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        ]
    )
    for ip in addresses:
        kind = non_public_kind(ip)
        if kind is None:
            continue
        an = "an" if kind[0] in "aeiou" else "a"
        shown = str(ip.ipv4_mapped or ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)
        said = f"is {an} {kind} address" if literal else f"resolves to {an} {kind} address {shown}"
        raise TargetRefused(f"{what}: {host} {said}; set {ALLOW_ENV}=1 to allow")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
