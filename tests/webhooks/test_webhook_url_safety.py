"""Webhook target safety: which URLs and resolved addresses are refused. Nothing here opens a connection."""

from __future__ import annotations

import ipaddress
import re

import pytest

from opencaller.webhooks.url_safety import (
    UnsafeWebhookTarget,
    check_target_url,
    parse_target_url,
    resolve_and_check,
    system_resolver,
)

REFUSED_ALWAYS = [
    ("ftp://hooks.example.com/", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://hooks.example.com/", "http:// or https://"),
    ("https:///path", "no host"),
    ("https://user:pass@hooks.example.com/", "user name or password"),
    ("https://token@hooks.example.com/", "user name or password"),
    ("http://hooks.example.com:0/", "port 0"),
    ("http://hooks.example.com:70000/", "malformed"),
    ("http://hooks.example.com\\@127.0.0.1/", "backslash"),
    ("http://hooks.example.com /", "whitespace"),
    ("http://2130706433/", "non-standard spelling of the IPv4 address 127.0.0.1"),
    ("http://0x7f.1/", "non-standard spelling of the IPv4 address 127.0.0.1"),
    ("http://0x7f000001/", "non-standard spelling of the IPv4 address 127.0.0.1"),
    ("http://017700000001/", "non-standard spelling of the IPv4 address 127.0.0.1"),
    ("http://0177.0.0.1/", "non-standard spelling of the IPv4 address 127.0.0.1"),
    ("http://127.1/", "non-standard spelling of the IPv4 address 127.0.0.1"),
    ("http://3232235521/", "non-standard spelling of the IPv4 address 192.168.0.1"),
    ("http://1.2.3.4.5/", "neither a valid IPv4 address"),
    ("http://hooks.123/", "neither a valid IPv4 address"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
    ("http://169.254.170.2/v2/credentials", "cloud metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata"),
    ("http://0.0.0.0:8000/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://[fe80::1%25eth0]/", "zone index"),
    ("http://hooks..example.com/", "not a valid domain name"),
    ("http://hooks_%2e.example.com/", "not a valid domain name"),
]

PRIVATE = [
    ("http://127.0.0.1:8080/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "carries 127.0.0.1, which is a loopback"),
    ("http://[::ffff:7f00:1]/hook", "carries 127.0.0.1, which is a loopback"),
    ("http://[64:ff9b::7f00:1]/hook", "carries 127.0.0.1"),
    ("http://[2002:7f00:1::]/hook", "carries 127.0.0.1"),
    ("http://[::ffff:10.0.0.1]/hook", "carries 10.0.0.1"),
    ("http://10.0.0.1/hook", "private"),
    ("http://172.16.5.4/hook", "private"),
    ("http://192.168.1.10/hook", "private"),
    ("http://100.64.0.1/hook", "private"),
    ("http://[fc00::1]/hook", "private"),
    ("http://169.254.1.1/hook", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://localhost:8000/hook", "loopback name"),
    ("http://LOCALHOST./hook", "loopback name"),
    ("http://api.localhost/hook", "loopback name"),
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook", "loopback"),  # full-width digits
]

PUBLIC = [
    "https://hooks.abc.com/",
    "http://hooks.example.com:8080/path?x=1",
    "https://8.8.8.8/hook",
    "https://[2606:4700:4700::1111]/hook",
    "https://[64:ff9b::808:808]/hook",
    "https://bücher.example/hook",
]


@pytest.mark.parametrize(("url", "reason"), REFUSED_ALWAYS)
@pytest.mark.parametrize("allow_private", [False, True])
def test_refused_even_when_private_targets_are_allowed(url: str, reason: str, allow_private: bool) -> None:
    with pytest.raises(UnsafeWebhookTarget, match=_escaped(reason)):
        check_target_url(url, allow_private=allow_private)


@pytest.mark.parametrize(("url", "reason"), PRIVATE)
def test_private_targets_refused_by_default_and_allowed_with_the_flag(url: str, reason: str) -> None:
    with pytest.raises(UnsafeWebhookTarget, match=_escaped(reason)) as info:
        check_target_url(url, allow_private=False)
    assert "private targets are not allowed" in str(info.value)
    check_target_url(url, allow_private=True)


@pytest.mark.parametrize("url", PUBLIC)
def test_public_targets_pass(url: str) -> None:
    check_target_url(url, allow_private=False)


def test_unsafe_target_is_a_value_error_with_a_human_message() -> None:
    with pytest.raises(ValueError, match=re.escape("webhook target address 10.0.0.1 is a private")):
        check_target_url("http://10.0.0.1/", allow_private=False)


def test_target_is_normalized_for_the_sender() -> None:
    target = parse_target_url("HTTPS://Hooks.Example.COM./a?b=c", allow_private=False)
    assert (target.scheme, target.host, target.port, target.address) == ("https", "hooks.example.com", 443, None)
    idn = parse_target_url("https://bücher.example:8443/", allow_private=False)
    assert (idn.host, idn.port) == ("xn--bcher-kva.example", 8443)
    literal = parse_target_url("http://[::1]:9000/", allow_private=True)
    assert (literal.host, literal.address) == ("::1", ipaddress.IPv6Address("::1"))


class ScriptedResolver:
    """An injected DNS: answers from a script and counts the questions."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


async def test_resolution_to_public_addresses_passes() -> None:
    resolver = ScriptedResolver(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"])
    addresses = await resolve_and_check("hooks.example.com", 443, allow_private=False, resolver=resolver)
    assert [str(address) for address in addresses] == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    assert resolver.calls == [("hooks.example.com", 443)]


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (["10.0.0.7"], "private"),
        (["127.0.0.1"], "loopback"),
        (["::ffff:127.0.0.1"], "carries 127.0.0.1"),
        (["fe80::1"], "link-local"),
        (["93.184.216.34", "192.168.0.1"], "192.168.0.1"),
    ],
)
async def test_any_private_answer_refuses_the_whole_host(answers: list[str], reason: str) -> None:
    with pytest.raises(UnsafeWebhookTarget, match=_escaped(reason)):
        await resolve_and_check("hooks.example.com", 443, allow_private=False, resolver=ScriptedResolver(answers))
    allowed = await resolve_and_check("hooks.example.com", 443, allow_private=True, resolver=ScriptedResolver(answers))
    assert allowed == [ipaddress.ip_address(answer) for answer in answers]


@pytest.mark.parametrize("answers", [["169.254.169.254"], ["127.0.0.1", "fd00:ec2::254"], ["0.0.0.0"], ["224.0.0.1"]])
async def test_metadata_and_unroutable_answers_are_refused_even_when_private_is_allowed(answers: list[str]) -> None:
    with pytest.raises(UnsafeWebhookTarget):
        await resolve_and_check("hooks.example.com", 80, allow_private=True, resolver=ScriptedResolver(answers))


async def test_ip_literal_is_checked_without_dns() -> None:
    async def no_dns(host: str, port: int) -> list[str]:
        raise AssertionError("an IP literal must not be resolved")

    assert await resolve_and_check("8.8.8.8", 443, allow_private=False, resolver=no_dns) == [
        ipaddress.IPv4Address("8.8.8.8")
    ]
    with pytest.raises(UnsafeWebhookTarget, match="loopback"):
        await resolve_and_check("::1", 443, allow_private=False, resolver=no_dns)


async def test_no_answer_and_garbage_answers() -> None:
    with pytest.raises(OSError, match="no addresses"):
        await resolve_and_check("hooks.example.com", 443, allow_private=False, resolver=ScriptedResolver([]))
    with pytest.raises(UnsafeWebhookTarget, match="non-address"):
        await resolve_and_check("hooks.example.com", 443, allow_private=False, resolver=ScriptedResolver(["x"]))


async def test_system_resolver_answers_localhost_with_loopback_which_is_refused() -> None:
    answers = await system_resolver("localhost", 80)
    assert answers and all(ipaddress.ip_address(answer).is_loopback for answer in answers)
    with pytest.raises(UnsafeWebhookTarget, match="loopback"):
        await resolve_and_check("localhost", 80, allow_private=False)


def _escaped(text: str) -> str:
    """``text`` as a literal regular expression for ``pytest.raises(match=...)``."""
    return re.escape(text)
