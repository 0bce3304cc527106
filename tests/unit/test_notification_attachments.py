"""Attachments in the plugin API: declared as a capability, checked when a connector is loaded."""

from __future__ import annotations

import pytest
from marshmallow import Schema

from hub.core.exceptions import ConfigError
from hub.integration.connectors import (
    Capability,
    Delivery,
    ErpConnector,
    NotificationConnector,
    check_connector,
)


class Empty(Schema):
    pass


class Attaching(NotificationConnector):
    name = "attaching"
    config_schema = Empty
    capabilities = frozenset({Capability.ATTACHMENTS})

    def notify(self, event, order, *, idempotency_key, attachments=()):
        return Delivery(recipient="someone")


class Forgetful(Attaching):
    """Declares attachments, but its notify cannot take them."""

    name = "forgetful"

    def notify(self, event, order, *, idempotency_key):
        return Delivery(recipient="someone")


class NotANotifier(ErpConnector):
    name = "erp-attaching"
    config_schema = Empty
    capabilities = frozenset({Capability.ATTACHMENTS})


def test_a_notifier_taking_attachments_may_declare_them():
    check_connector(Attaching)


@pytest.mark.parametrize("cls", [Forgetful, NotANotifier])
def test_declaring_attachments_without_taking_them_fails_at_start_up(cls):
    with pytest.raises(ConfigError) as caught:
        check_connector(cls)

    assert f"connector {cls.name} declares attachments" in str(caught.value)
    assert "attachments=()" in str(caught.value)
