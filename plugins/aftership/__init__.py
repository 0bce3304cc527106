"""The ``aftership`` plugin: a tracking connector for AfterShip's Tracking API (v4).

See :mod:`plugins.aftership.connector` for the connector,
:mod:`plugins.aftership.mapping` for the shapes and the tag mapping, and
:mod:`plugins.aftership.sandbox` for the simulator the tests and the demo run
against. User guide: ``docs/connectors/aftership.md``.
"""

from __future__ import annotations

from hub import hookimpl
from plugins.aftership.connector import AfterShipConnector


@hookimpl
def hub_register_connectors():
    return [AfterShipConnector]


@hookimpl
def hub_register_sandboxes():
    from plugins.aftership.sandbox import AfterShipSandbox

    return {"aftership": AfterShipSandbox}
