"""The ``woocommerce`` sales channel: a WooCommerce store's orders in, fulfilments and stock out.

Written only against the hub's plugin API (``hub``, ``hub.integration``,
``hub.core``), as a plugin outside the repository would be. See
:mod:`plugins.woocommerce.connector` for what it calls and
``docs/connectors/woocommerce.md`` for setting it up;
:mod:`plugins.woocommerce.sandbox` simulates the API subset it uses (for the
demo, the tests and the benchmarks).
"""

from __future__ import annotations

from hub import hookimpl
from plugins.woocommerce.connector import WooCommerceConnector

__all__ = ["WooCommerceConnector"]


@hookimpl
def hub_register_connectors():
    return [WooCommerceConnector]


@hookimpl
def hub_register_sandboxes():
    from plugins.woocommerce.sandbox import WooCommerceSandbox

    return {"woocommerce": WooCommerceSandbox}
