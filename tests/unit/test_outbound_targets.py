"""Which addresses an outbound call may reach (hub.integration.targets), without the network."""

from __future__ import annotations

import pytest

from hub.integration.targets import non_public_kind


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address):
    assert non_public_kind(address) is None


@pytest.mark.parametrize(
    "address, kind",
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("239.255.255.250", "multicast"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fd00::1", "private"),
        ("fe80::1%eth0", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a00:5", "private"),  # NAT64 of 10.0.0.5
        ("2002:a00:5::1", "private"),  # 6to4 of 10.0.0.5
    ],
)
def test_non_public_addresses_are_named_by_kind(address, kind):
    assert non_public_kind(address) == kind
