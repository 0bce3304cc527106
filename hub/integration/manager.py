"""The plugin manager: bundled and third-party plugins, found the same way.

Bundled plugins are the ``hub.plugins`` entry points of this very package (see
``pyproject.toml``); third-party plugins add their own. The hub's own job
handlers are registered from :data:`DEFAULT_PLUGINS` through the same hooks, so
nothing in the core is special-cased.

``HUB_PLUGINS=pkg.module,other.module`` registers more plugin modules by import
name, without packaging them (handy while writing one, and for tests that start
``hub`` processes). ``HUB_TRACE_PLUGINS=1`` logs every hook call and its result.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from importlib.metadata import entry_points
from typing import Any

import pluggy

from hub.core.exceptions import ConfigError
from hub.integration import hookspecs
from hub.integration.connectors import ROLES, Connector, check_connector

log = logging.getLogger(__name__)

#: Modules of the hub itself that implement hooks.
DEFAULT_PLUGINS: tuple[str, ...] = ("hub.pipeline.builtin", "hub.pipeline.defaults")

ENTRY_POINT_GROUP = "hub.plugins"


def get_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """Build a fresh plugin manager with the bundled and installed plugins."""
    pm = pluggy.PluginManager("hub")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for name in filter(None, (n.strip() for n in os.environ.get("HUB_PLUGINS", "").split(","))):
        if pm.get_plugin(name) is None:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise ConfigError(
                    f"HUB_PLUGINS names {name!r}, which cannot be imported: {exc}"
                ) from exc
            pm.register(module, name=name)
    # A misspelt hook name fails here, at start-up, not in production.
    pm.check_pending()
    if os.environ.get("HUB_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: log.info("plugin trace: %s", msg.rstrip()))
        pm.enable_tracing()
    return pm


def collect_connectors(pm: pluggy.PluginManager) -> dict[str, type[Connector]]:
    """Return every registered connector by name; refuse duplicates and bad declarations."""
    found: dict[str, type[Connector]] = {}
    for impl_result, plugin_name in _results_with_plugins(pm, "hub_register_connectors"):
        for cls in impl_result or []:
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise ConfigError(f"plugin {plugin_name} registered {cls!r}, not a Connector class")
            unknown = set(cls.roles) - set(ROLES)
            if unknown or not cls.roles:
                raise ConfigError(
                    f"connector {cls.name!r} of plugin {plugin_name} has bad roles {sorted(unknown)}"
                    f" (known: {', '.join(ROLES)})"
                )
            try:
                check_connector(cls)
            except ConfigError as exc:
                raise ConfigError(f"plugin {plugin_name}: {exc.message}") from None
            if cls.name in found and found[cls.name] is not cls:
                raise ConfigError(f"two plugins register a connector named {cls.name!r}")
            found[cls.name] = cls
    return found


def collect_job_handlers(pm: pluggy.PluginManager) -> dict:
    handlers: dict = {}
    for result, plugin_name in _results_with_plugins(pm, "hub_register_job_handlers"):
        for kind, handler in (result or {}).items():
            if kind in handlers:
                raise ConfigError(f"plugin {plugin_name} registers job kind {kind!r} again")
            handlers[kind] = handler
    return handlers


def plugin_version(plugin: object) -> str:
    """The installed distribution version a plugin module came from, if known."""
    for dist, module in _entry_point_dists():
        if plugin is module:
            return dist
    from hub import __version__

    return __version__


def _entry_point_dists() -> Iterator[tuple[str, object]]:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            yield (ep.dist.version if ep.dist else "?"), ep.load()
        except Exception:  # a broken third-party plugin is reported by pluggy itself
            continue


def _results_with_plugins(pm: pluggy.PluginManager, hook_name: str) -> Iterator[tuple[Any, str]]:
    # Calling each implementation alone lets errors name the plugin at fault.
    for plugin_name in implementers(pm, hook_name):
        [result] = call_one(pm, hook_name, plugin_name) or [None]
        yield result, plugin_name


def implementers(pm: pluggy.PluginManager, hook_name: str) -> list[str]:
    """The names of the plugins implementing ``hook_name``, in the order pluggy calls them."""
    return [impl.plugin_name for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls())]


def call_one(
    pm: pluggy.PluginManager, hook_name: str, plugin_name: str, **kwargs: Any
) -> list[Any]:
    """Call one plugin's implementation of a hook, through pluggy (its results, [] if none).

    The hook is called as pluggy calls it (keyword arguments matched to the
    implementation's, ``None`` results dropped), with the other plugins left out.
    """
    plugin = pm.get_plugin(plugin_name)
    if plugin is None:
        return []
    others = [p for _, p in pm.list_name_plugin() if p is not plugin]
    return list(pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs) or [])


def call_isolated(
    pm: pluggy.PluginManager,
    hook_name: str,
    *,
    on_error: Callable[[str, BaseException], None],
    around: Callable[[], AbstractContextManager[Any]] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Call every implementation of a fan-out hook, each on its own; the results of those that ran.

    One that raises is reported to ``on_error(plugin name, error)`` (the hub logs
    and counts it) and left out: it never stops the others or the caller.
    ``around`` wraps each call (a savepoint, so a failing plugin's writes go
    with it).
    """
    results: list[Any] = []
    for plugin_name in implementers(pm, hook_name):
        try:
            with around() if around else nullcontext():
                results.extend(call_one(pm, hook_name, plugin_name, **kwargs))
        except Exception as exc:
            on_error(plugin_name, exc)
    return results
