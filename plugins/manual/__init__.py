"""The ``manual`` sales connector: orders people enter (phone, in-store, email).

Its orders come through the API (``POST /api/v1/orders``), the admin UI or the
CLI (``hub orders create``), never from a pull; so it has nothing to reach and
nothing to configure beyond an optional default currency.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hub import hookimpl
from hub.core.money import CURRENCY_EXPONENTS
from hub.integration.connectors import SalesConnector


class ManualConfig(Schema):
    default_currency = fields.String(
        load_default="USD",
        validate=validate.OneOf(sorted(CURRENCY_EXPONENTS)),
        metadata={"label": "Default currency", "help": "Used when an order names none."},
    )


class ManualConnector(SalesConnector):
    name = "manual"
    label = "Manual orders"
    description = "Orders entered by people: phone, in-store, email."
    config_schema = ManualConfig

    def check_connection(self) -> str:
        return "manual orders need no connection"


@hookimpl
def hub_register_connectors():
    return [ManualConnector]
