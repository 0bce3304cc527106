"""Every hook a plugin can implement. Plugins write ``from hub import hookimpl``.

Hooks are called with keyword arguments only. A plugin's failure in a fan-out
hook is logged and isolated: it never aborts the core's transaction and never
stops the other plugins from hearing the event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    from flask import Flask
    from marshmallow import Schema

    from hub.core.events import OrderEvent
    from hub.integration.connectors import Connector
    from hub.integration.jobs import JobHandler, PeriodicJob
    from hub.integration.lookup import OrderLookup

hookspec = pluggy.HookspecMarker("hub")

# pluggy reads only a spec's signature and never calls it; each body raises so
# that it honours its declared return type for the type checker.


# --- Start-up: what a plugin brings -------------------------------------------


@hookspec
def hub_register_connectors() -> list[type[Connector]]:
    """Return the connector classes this plugin provides.

    A connector declares its ``name``, its ``roles`` (``sales``, ``payment``,
    ``shipping``, ``erp``, ``notification``) and its marshmallow
    ``config_schema``; channels are configured instances of it.

    :return: a list of :class:`hub.integration.connectors.Connector` subclasses; names
        must be unique across all plugins.
    """
    raise NotImplementedError


@hookspec
def hub_register_job_handlers() -> dict[str, JobHandler]:
    """Return the job kinds this plugin can run, each mapped to its handler.

    A handler is called as ``handler(ctx)`` with a :class:`hub.integration.jobs.JobContext`.
    Raise an error whose ``retryable`` is false to send the job to ``dead`` at
    once; any other exception retries it with backoff.

    :return: ``{"kind": handler}``; a kind must be unique across all plugins.
    """
    raise NotImplementedError


@hookspec
def hub_register_periodic_jobs() -> list[PeriodicJob]:
    """Return jobs the scheduler enqueues on a fixed interval.

    Each firing is enqueued with a dedupe key for its time slot, so several
    schedulers running at once never double the work.

    :return: a list of :class:`hub.integration.jobs.PeriodicJob`.
    """
    raise NotImplementedError


@hookspec
def hub_register_services() -> dict[str, Callable[[Any, int], Any]]:
    """Return the hub's services a job handler reaches through its context, by name.

    The hub calls ``factory(hub, channel_id)`` when a job asks for one:
    ``ctx.erp()`` asks for ``"erp"``, a
    :class:`hub.integration.erp.ErpExchange`. The hub's own plugin
    (:mod:`hub.pipeline.builtin`) provides them, so a connector's plugin uses
    the hub without importing its internals.

    :return: ``{"name": factory}``; a name must be unique across all plugins.
    """
    raise NotImplementedError


@hookspec
def hub_register_sandboxes() -> dict[str, type]:
    """Return loopback simulators of the services this plugin's connectors call.

    ``{connector name: sandbox class}``; a sandbox is a WSGI app (see
    :mod:`hub.integration.sandbox`). ``hub demo``, the benchmarks and the
    reliability suite run the flow against them, so the hub never imports a
    plugin to find one.
    """
    raise NotImplementedError


@hookspec
def hub_register_settings() -> dict[str, type[Schema]]:
    """Return the settings this plugin takes, each a marshmallow schema, by name.

    For plugins that are not connectors (a connector's settings are its
    channels' config). The admin UI shows each as a form (**Settings**) made
    from the schema as a channel's form is (``label``, ``help``,
    ``secret``); the schema validates what is saved, and fields with
    ``metadata={"secret": True}`` are encrypted at rest and never shown
    back. Read the values at run time with ``ctx.plugin_settings(name)`` in a
    job handler or ``lookup.plugin_settings(name)`` in an order rule: the
    schema's ``load_default`` values until a person saves the form.

    :return: ``{"name": SchemaClass}``; a name must be unique across all plugins.
    """
    raise NotImplementedError


@hookspec
def hub_register_blueprints(app: Flask) -> None:
    """Register Flask blueprints (pages, endpoints) on the web app.

    :param app: the application being built by ``create_app``.
    """
    raise NotImplementedError


# --- Order flow: what a plugin decides ----------------------------------------


@hookspec
def hub_validate_order(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    """Check a pending order before it is confirmed; return the reasons to hold it.

    Every implementation runs and every reason found is kept: the order goes
    on hold with all of them listed, never dropped. Releasing the order runs
    the checks again. A rule that raises is logged and counted
    (``hub_plugin_errors_total``) and its answer left out: it holds nothing
    and aborts nothing.

    :param order: the order as the REST API shows it.
    :param lookup: what the rule may read of the hub (stock, known SKUs, a
        customer's recent orders, settings): :class:`hub.integration.lookup.OrderLookup`.
    :return: hold reasons, e.g. ``["address_incomplete"]``; empty when all is well.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def hub_allocate_order(
    order: dict[str, Any], lookup: OrderLookup
) -> list[tuple[str, dict[int, int]]] | None:
    """Decide which locations ship which lines of a confirmed order.

    Stops at first non-None result. The hub's default is registered
    ``trylast`` so a plugin can replace the strategy. Called while the order
    is being confirmed, with every stock level of its SKUs locked: the hub
    reserves the answer (all of it or, if a location lacks the stock, none:
    the order is held ``out_of_stock``) and later ships from it, one
    fulfilment group per location. Orders whose stock is not tracked are
    routed when their fulfilment starts.

    :param order: the order as the REST API shows it.
    :param lookup: what the strategy may read of the hub: active locations
        (``lookup.locations()``) and the stock available at each
        (``lookup.available(skus)``), read while those levels are locked.
    :return: fulfilment groups ``[(location_code, {line_id: quantity})]``
        covering every line, or None to leave the decision to the next plugin.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def hub_geocode_address(address: dict[str, Any]) -> tuple[float, float, str] | None:
    """Place a shipping address: return its latitude, longitude and how sure that is.

    Stops at first non-None result. Asked as an order comes in, in the
    transaction that stores it (so answer quickly: keep a cache), unless the
    channel sent coordinates with the address; when no plugin answers, the
    hub's offline tables place it (US ZIP codes, towns, country centres; see
    docs/routing.md). A geocoder that raises or answers out of range is
    logged and counted (``hub_plugin_errors_total``) and the next one asked:
    the order comes in regardless.

    :param address: the shipping address as the order stores it (``address1``,
        ``city``, ``zip``, ``province_code``, ``country_code``, ...).
    :return: ``(latitude, longitude, precision)`` in degrees, with precision one of
        ``exact``, ``postal_code``, ``city``, ``country``; or None to let the next
        geocoder (and then the hub's tables) place it. The order records the
        plugin's name as the placement's source.
    """
    raise NotImplementedError


# --- Order flow: what a plugin hears ------------------------------------------


@hookspec
def hub_order_event(event: OrderEvent, order: dict[str, Any]) -> None:
    """React to something that happened to an order, after it was committed.

    Called from a job of its own for each implementing plugin: a failure is
    retried for this plugin alone and never touches the others or the order.
    The same event may be delivered more than once after a crash; use
    ``event.id`` to make the reaction idempotent.

    :param event: what happened (``event.name``, e.g. ``order.shipped``).
    :param order: the order as the REST API shows it, at delivery time.
    """
    raise NotImplementedError
