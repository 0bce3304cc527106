"""The bundled Stripe plugin: the ``stripe`` payment connector (see ``docs/connectors/stripe.md``)."""

from __future__ import annotations

from hub import hookimpl
from plugins.stripe.connector import StripeConnector

__all__ = ["StripeConnector"]


@hookimpl
def hub_register_connectors():
    return [StripeConnector]


@hookimpl
def hub_register_sandboxes():
    from plugins.stripe.sandbox import StripeSandbox

    return {"stripe": StripeSandbox}
