"""The ``shopify`` sales channel: a Shopify store's orders in, fulfilments and stock out.

See :mod:`plugins.shopify.connector` for what it calls and
``docs/connectors/shopify.md`` for setting it up. :mod:`plugins.shopify.sandbox`
simulates the API subset it uses (for the demo, the tests and the benchmarks).
"""

from __future__ import annotations

from hub import hookimpl
from plugins.shopify.connector import ShopifyConnector

__all__ = ["ShopifyConnector"]


@hookimpl
def hub_register_connectors():
    return [ShopifyConnector]


@hookimpl
def hub_register_sandboxes():
    from plugins.shopify.sandbox import ShopifySandbox

    return {"shopify": ShopifySandbox}
