"""The ``shipstation`` plugin: a shipping connector for ShipStation's V1 API.

See :mod:`plugins.shipstation.connector` for the connector,
:mod:`plugins.shipstation.mapping` for the shapes and dates, and
:mod:`plugins.shipstation.sandbox` for the simulator that the tests, the demo
and the benchmarks run against. User guide: ``docs/connectors/shipstation.md``.
"""

from __future__ import annotations

from hub import hookimpl
from plugins.shipstation.connector import ShipStationConnector


@hookimpl
def hub_register_connectors():
    return [ShipStationConnector]


@hookimpl
def hub_register_sandboxes():
    from plugins.shipstation.sandbox import ShipStationSandbox

    return {"shipstation": ShipStationSandbox}
