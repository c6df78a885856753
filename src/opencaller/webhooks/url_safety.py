"""Which webhook targets opencaller is willing to send to (server-side request forgery defence).

A webhook URL is chosen by a client, but the request is sent from inside our network. Without checks, a client
could make opencaller post to its own admin ports, to other services on the private network, or to a cloud
metadata endpoint that hands out credentials. So a target must be ``http(s)``, carry no credentials, and
name a host whose addresses are public. Private, loopback and link-local addresses are allowed only when
the operator sets an allow-private flag (for receivers on the same machine or network); cloud metadata
addresses, unspecified, multicast and reserved addresses are refused always.

The check runs twice: on the URL when a subscription is saved (:func:`check_target_url`, no DNS), and on the
resolved addresses right before each delivery (:func:`resolve_and_check`); the sender then connects only to an
address that passed the second check, so a DNS answer that changes in between cannot redirect the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
"""An IPv4 or IPv6 address."""

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Turns ``(host, port)`` into the textual addresses to connect to; injectable for tests."""

_DEFAULT_PORTS = {"http": 80, "https": 443}

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.IPv4Address("169.254.169.254"),  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack
        ipaddress.IPv4Address("169.254.170.2"),  # AWS ECS task credentials
        ipaddress.IPv4Address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.IPv6Address("fd00:ec2::254"),  # AWS over IPv6
    }
)
"""Cloud instance-metadata endpoints: refused even when private targets are allowed, since they hand out
credentials to whoever can reach them."""

_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog"})

_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")

_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_NAME_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


class UnsafeWebhookTarget(ValueError):
    """A webhook URL or address that opencaller refuses to send to; the message says why, for the user."""


class AddressClass(Enum):
    """How an address is treated: public ones are allowed, private ones only with the flag, forbidden
    never."""

    PUBLIC = "public"
    PRIVATE = "private"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A checked webhook URL, split into what the sender needs.

    ``host`` is the normalized ASCII host (lower case, IDNA-encoded, no trailing dot, no brackets): the
    name the sender resolves and puts in the ``Host`` header and TLS SNI. ``address`` is set when the host
    is an IP literal.
    """

    scheme: str
    host: str
    port: int
    address: IPAddress | None


def classify_address(address: IPAddress) -> tuple[AddressClass, str]:
    """Say whether ``address`` is public, private or forbidden, with a short human reason.

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4) are judged
    by the IPv4 address inside, so ``::ffff:127.0.0.1`` counts as loopback.
    """
    if address in METADATA_ADDRESSES:
        return AddressClass.FORBIDDEN, "is a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            verdict, reason = classify_address(embedded)
            if address.sixtofour is None or verdict is not AddressClass.PUBLIC:
                return verdict, f"carries {embedded}, which {reason}"
        elif address in _IPV4_COMPATIBLE and not (address.is_unspecified or address.is_loopback):
            return AddressClass.FORBIDDEN, "is a deprecated IPv4-compatible IPv6 address"
    if address.is_unspecified or (isinstance(address, ipaddress.IPv4Address) and address in _IPV4_THIS_NETWORK):
        return AddressClass.FORBIDDEN, "is an unspecified address"
    if address.is_multicast:
        return AddressClass.FORBIDDEN, "is a multicast address"
    if address.is_loopback:
        return AddressClass.PRIVATE, "is a loopback address"
    if address.is_link_local:
        return AddressClass.PRIVATE, "is a link-local address"
    if isinstance(address, ipaddress.IPv6Address) and address in _NAT64_LOCAL_USE:
        return AddressClass.PRIVATE, "is a local-use NAT64 address"
    if address.is_reserved:
        return AddressClass.FORBIDDEN, "is a reserved address"
    if address.is_private or not address.is_global:
        return AddressClass.PRIVATE, "is a private (non-public) address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return AddressClass.PRIVATE, "is a site-local address"
    return AddressClass.PUBLIC, "is a public address"


def check_address(address: IPAddress, *, allow_private: bool) -> None:
    """Raise :class:`UnsafeWebhookTarget` unless a delivery may connect to ``address``."""
    verdict, reason = classify_address(address)
    if verdict is AddressClass.PUBLIC:
        return
    if verdict is AddressClass.PRIVATE and allow_private:
        return
    hint = "" if verdict is AddressClass.FORBIDDEN else " (private targets are not allowed on this server)"
    raise UnsafeWebhookTarget(f"webhook target address {address} {reason}; refused{hint}")


def parse_target_url(url: str, *, allow_private: bool) -> WebhookTarget:
    """Check a webhook URL without DNS and return its normalized parts.

    Refuses non-http(s) schemes, a missing host, credentials in the URL, bad ports, unsafe IP literals
    (including decimal, octal and hex spellings of IPv4 such as ``http://2130706433/``, which are refused
    outright), and
    ``localhost`` names unless ``allow_private``. Raises :class:`UnsafeWebhookTarget`.
    """
    if not isinstance(url, str) or not url:
        raise UnsafeWebhookTarget("webhook URL is empty")
    if _FORBIDDEN_URL_CHARS.search(url):
        raise UnsafeWebhookTarget("webhook URL contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookTarget(f"webhook URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeWebhookTarget("webhook URL must start with http:// or https://")
    if "@" in parts.netloc:
        raise UnsafeWebhookTarget("webhook URL must not contain a user name or password")
    raw_host = parts.hostname
    if not raw_host:
        raise UnsafeWebhookTarget("webhook URL has no host")
    if port == 0:
        raise UnsafeWebhookTarget("webhook URL has port 0")
    port = port if port is not None else _DEFAULT_PORTS[scheme]
    bracketed = parts.netloc.rpartition("@")[2].startswith("[")
    host, address = _normalize_host(raw_host, bracketed=bracketed)
    if address is not None:
        check_address(address, allow_private=allow_private)
    elif host in _METADATA_NAMES:
        raise UnsafeWebhookTarget(f"webhook host {host} is a cloud metadata service; refused")
    elif (host == "localhost" or host.endswith(".localhost")) and not allow_private:
        raise UnsafeWebhookTarget(
            f"webhook host {host} is a loopback name; refused (private targets are not allowed on this server)"
        )
    return WebhookTarget(scheme=scheme, host=host, port=port, address=address)


def check_target_url(url: str, *, allow_private: bool) -> None:
    """Refuse (with :class:`UnsafeWebhookTarget`) a webhook URL that may never be used; call it when saving a
    subscription. The DNS check happens later, at delivery time, in :func:`resolve_and_check`."""
    parse_target_url(url, allow_private=allow_private)


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the event loop's ``getaddrinfo`` (non-blocking), TCP addresses only."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


async def resolve_and_check(
    host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None
) -> list[IPAddress]:
    """Resolve ``host`` once and return its addresses, refusing if ANY of them is unsafe.

    Refusing on any (rather than filtering) keeps one poisoned answer from hiding among good ones. An IP
    literal is checked without DNS. DNS failures propagate as :class:`OSError` (a retryable condition, not
    a refusal).
    """
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal, allow_private=allow_private)
        return [literal]
    answers = await (resolver or system_resolver)(host, port)
    addresses: list[IPAddress] = []
    for answer in answers:
        try:
            address = ipaddress.ip_address(answer)
        except ValueError:
            raise UnsafeWebhookTarget(f"webhook host {host} resolved to a non-address {answer!r}") from None
        check_address(address, allow_private=allow_private)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OSError(f"webhook host {host} resolved to no addresses")
    return addresses


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv4-mapped, NAT64 (well-known prefix) or 6to4 IPv6 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _normalize_host(raw_host: str, *, bracketed: bool) -> tuple[str, IPAddress | None]:
    """Lower-case, IDNA-encode and classify a URL host as an IP literal or a DNS name."""
    if bracketed:
        if "%" in raw_host:
            raise UnsafeWebhookTarget("webhook URL must not use an IPv6 zone index")
        try:
            v6 = ipaddress.IPv6Address(raw_host)
        except ValueError:
            raise UnsafeWebhookTarget(f"webhook host [{raw_host}] is not a valid IPv6 address") from None
        return str(v6), v6
    host = raw_host
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise UnsafeWebhookTarget("webhook host is not a valid internationalized domain name") from None
    host = host.lower().removesuffix(".")
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        v4 = _parse_loose_ipv4(labels)
        if v4 is None:
            raise UnsafeWebhookTarget(f"webhook host {host} is neither a valid IPv4 address nor a domain name")
        if host != str(v4):
            raise UnsafeWebhookTarget(
                f"webhook host {host} is a non-standard spelling of the IPv4 address {v4}; "
                "write addresses in dotted decimal"
            )
        return host, v4
    if len(host) > 253 or not all(_NAME_LABEL.match(label) for label in labels):
        raise UnsafeWebhookTarget(f"webhook host {host!r} is not a valid domain name")
    return host, None


def _parse_loose_ipv4(labels: list[str]) -> ipaddress.IPv4Address | None:
    """Read IPv4 the way ``inet_aton`` and browsers do (1-4 parts; decimal, ``0x`` hex or leading-zero octal;
    the last part fills the remaining bytes), so obfuscated spellings are recognised for what they are."""
    if not 1 <= len(labels) <= 4:
        return None
    numbers: list[int] = []
    for label in labels:
        if not _NUMERIC_LABEL.match(label):
            return None
        if label.startswith("0x"):
            numbers.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label.startswith("0"):
            if any(digit in "89" for digit in label):
                return None
            numbers.append(int(label, 8))
        else:
            numbers.append(int(label))
    *head, last = numbers
    if any(part > 255 for part in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for index, part in enumerate(head):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)
