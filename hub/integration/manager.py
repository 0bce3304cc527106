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

import difflib
import importlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from types import ModuleType
from typing import Any

import pluggy
from marshmallow import Schema

from hub.core.exceptions import ConfigError
from hub.integration import hookspecs
from hub.integration.checks import shown
from hub.integration.connectors import ROLES, Connector, check_connector

log = logging.getLogger(__name__)

#: Modules of the hub itself that implement hooks.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "hub.pipeline.builtin",
    "hub.pipeline.defaults",
    "hub.pipeline.tracking",
)

ENTRY_POINT_GROUP = "hub.plugins"

#: Entry points a hub of only the plugins named (``only=True``, for tests) still loads:
#: the hub's own manual channel (orders people enter through the API, the admin and
#: the CLI) is a channel of the ``manual`` connector.
ESSENTIAL_ENTRY_POINTS: tuple[str, ...] = ("manual",)


def get_plugin_manager(
    *,
    load_entry_points: bool = True,
    plugins: Iterable[object | str] = (),
    only: bool = False,
) -> pluggy.PluginManager:
    """Build a fresh plugin manager with the bundled and installed plugins.

    :param plugins: more plugins to register: objects (modules, instances) or
        import names. One registered already (an installed entry point handed
        again) is skipped, not an error.
    :param only: register exactly the hub's own plugins (:data:`DEFAULT_PLUGINS`,
        :data:`ESSENTIAL_ENTRY_POINTS`) and ``plugins``: no other entry point,
        nothing from ``HUB_PLUGINS``. For tests of one plugin.
    :raises ConfigError: one line naming the plugin at fault: a hook that is not
        a hub hook (with the nearest real name), arguments a hook does not offer,
        a module that cannot be imported.
    """
    pm = pluggy.PluginManager("hub")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        register_plugin(pm, importlib.import_module(name), name=name)
    try:
        if only:
            for name in ESSENTIAL_ENTRY_POINTS:
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
        elif load_entry_points:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except pluggy.PluginValidationError as exc:
        raise ConfigError(_explain_invalid(pm, exc)) from None
    named = [] if only else [n.strip() for n in os.environ.get("HUB_PLUGINS", "").split(",")]
    for name in filter(None, named):
        if pm.get_plugin(name) is None:
            register_plugin(pm, _import(name, "HUB_PLUGINS names"), name=name)
    for plugin in plugins:
        if isinstance(plugin, str):
            if pm.get_plugin(plugin) is not None:
                continue
            register_plugin(pm, _import(plugin, "the plugins named include"), name=plugin)
        else:
            register_plugin(pm, plugin)
    # A misspelt hook name fails here, at start-up, not in production.
    check_hooks(pm)
    if os.environ.get("HUB_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: log.info("plugin trace: %s", msg.rstrip()))
        pm.enable_tracing()
    return pm


def _import(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"{what} {name!r}, which cannot be imported: {exc}") from exc


def register_plugin(pm: pluggy.PluginManager, plugin: object, name: str | None = None) -> str:
    """Register ``plugin`` (skipped if it is registered already); return its name.

    A plugin that is no module is named after its class (``tests.x.Rules``;
    ``-2``, ``-3`` … for more instances of it), so errors and metrics read well.

    :raises ConfigError: one line naming the plugin and what is wrong with a hook of it.
    """
    if pm.is_registered(plugin):
        return pm.get_name(plugin) or ""
    if name is None and not isinstance(plugin, ModuleType):
        base = f"{type(plugin).__module__}.{type(plugin).__qualname__}"
        name, n = base, 1
        while pm.has_plugin(name):
            n += 1
            name = f"{base}-{n}"
    try:
        registered = pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise ConfigError(_explain_invalid(pm, exc, name)) from None
    except ValueError as exc:  # a name taken by another plugin
        first = str(exc).splitlines()[0]
        raise ConfigError(f"plugin {name or plugin!r} cannot be registered: {first}") from None
    return registered or ""


def plugin_label(pm: pluggy.PluginManager, plugin_name: str) -> str:
    """How errors name a plugin: its registered name, or its class when pluggy named it by id."""
    plugin = pm.get_plugin(plugin_name)
    if plugin_name.isdigit() and plugin is not None:
        return f"{type(plugin).__module__}.{type(plugin).__qualname__}"
    return plugin_name


def check_hooks(pm: pluggy.PluginManager) -> None:
    """Refuse an implementation of a hook the hub does not have (pluggy's ``check_pending``,
    in one line that names the plugin, the hook and the nearest real hook name)."""
    known = hub_hook_names()
    for name, caller in sorted(vars(pm.hook).items()):
        if name.startswith("_") or not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                raise ConfigError(_unknown_hook(plugin_label(pm, impl.plugin_name), name, known))


def hub_hook_names() -> list[str]:
    """The names of every hook the hub offers (its specs)."""
    return sorted(
        n for n in vars(hookspecs) if n.startswith("hub_") and callable(vars(hookspecs)[n])
    )


def _unknown_hook(plugin: str, hook: str, known: list[str]) -> str:
    nearest = difflib.get_close_matches(hook, known, n=1, cutoff=0.6)
    hint = f"did you mean {nearest[0]}?" if nearest else f"hooks: {', '.join(known)}"
    return f"plugin {plugin} implements {hook}, which is not a hub hook ({hint})"


def _explain_invalid(
    pm: pluggy.PluginManager, exc: pluggy.PluginValidationError, name: str | None = None
) -> str:
    """One line for pluggy's (multi-line) refusal of a hook implementation."""
    plugin = exc.plugin
    label = (
        name
        or pm.get_name(plugin)
        or getattr(plugin, "__name__", None)
        or f"{type(plugin).__module__}.{type(plugin).__qualname__}"
    )
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        hook = opts.get("specname") or attr
        caller = getattr(pm.hook, hook, None)
        spec = caller.spec if isinstance(caller, pluggy.HookCaller) else None
        if spec is None:
            continue
        impl = pluggy.HookImpl(plugin, str(label), getattr(plugin, attr), opts)
        extra = [a for a in impl.argnames if a not in (*spec.argnames, *spec.kwargnames)]
        if extra:
            return (
                f"plugin {label}: {hook} takes {', '.join(extra)}, which the hook does not offer"
                f" (it offers {', '.join(spec.argnames) or 'nothing'})"
            )
    first = str(exc).strip().splitlines()
    return f"plugin {label}: {' '.join(line.strip() for line in first)}"


def collect_connectors(pm: pluggy.PluginManager) -> dict[str, type[Connector]]:
    """Return every registered connector by name; refuse duplicates and bad declarations."""
    found: dict[str, type[Connector]] = {}
    owners: dict[str, str] = {}
    for impl_result, plugin_name in _results_with_plugins(pm, "hub_register_connectors"):
        plugin_name = plugin_label(pm, plugin_name)
        if impl_result is None:
            continue
        if not isinstance(impl_result, list | tuple):
            raise ConfigError(
                f"plugin {plugin_name}: hub_register_connectors returned {shown(impl_result)},"
                " not a list of Connector classes"
            )
        for cls in impl_result:
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise ConfigError(
                    f"plugin {plugin_name}: hub_register_connectors returned {shown(cls)}"
                    " in its list, not a Connector class"
                )
            roles = getattr(cls, "roles", ())
            unknown = set(roles) - set(ROLES)
            if unknown or not roles:
                raise ConfigError(
                    f"plugin {plugin_name}: connector {getattr(cls, 'name', cls.__qualname__)!r}"
                    f" has bad roles {sorted(unknown)} (known: {', '.join(ROLES)};"
                    " subclass SalesConnector, PaymentConnector …)"
                )
            try:
                check_connector(cls)
            except ConfigError as exc:
                raise ConfigError(f"plugin {plugin_name}: {exc.message}") from None
            if cls.name in found and found[cls.name] is not cls:
                raise ConfigError(
                    f"plugins {owners[cls.name]} and {plugin_name} both register a connector"
                    f" named {cls.name!r} ({_where(found[cls.name])} and {_where(cls)})"
                )
            found[cls.name] = cls
            owners.setdefault(cls.name, plugin_name)
    return found


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def collect_job_handlers(pm: pluggy.PluginManager) -> dict:
    """Return every registered job handler by kind; refuse what is not ``{kind: callable}``
    and a kind two plugins register, in one line naming the plugin."""
    handlers: dict = {}
    owners: dict[str, str] = {}
    for result, plugin_name in _results_with_plugins(pm, "hub_register_job_handlers"):
        plugin_name = plugin_label(pm, plugin_name)
        if result is None:
            continue
        if not isinstance(result, dict):
            raise ConfigError(
                f"plugin {plugin_name}: hub_register_job_handlers returned {shown(result)},"
                " not a dict of {kind: handler}"
            )
        for kind, handler in result.items():
            if not isinstance(kind, str) or not kind:
                raise ConfigError(
                    f"plugin {plugin_name}: hub_register_job_handlers names kind {shown(kind)},"
                    " not a string"
                )
            if not callable(handler):
                raise ConfigError(
                    f"plugin {plugin_name}: hub_register_job_handlers[{kind!r}] is"
                    f" {shown(handler)}, not a function handler(ctx)"
                )
            if kind in handlers:
                raise ConfigError(
                    f"plugins {owners[kind]} and {plugin_name} both register job kind {kind!r}"
                )
            handlers[kind] = handler
            owners[kind] = plugin_name
    return handlers


_SETTINGS_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,99}")


def collect_settings_schemas(pm: pluggy.PluginManager) -> dict[str, type[Schema]]:
    """Return every plugin's settings schema by name (``hub_register_settings``).

    :raises ConfigError: one line naming the plugin: not a dict, a name that is
        not lower-case letters, digits, ``_``, ``-`` or ``.``, a value that is
        not a marshmallow Schema class, or a name another plugin registers too.
    """
    found: dict[str, type[Schema]] = {}
    owners: dict[str, str] = {}
    for result, plugin_name in _results_with_plugins(pm, "hub_register_settings"):
        plugin_name = plugin_label(pm, plugin_name)
        if result is None:
            continue
        if not isinstance(result, dict):
            raise ConfigError(
                f"plugin {plugin_name}: hub_register_settings returned {shown(result)},"
                " not a dict of {name: Schema class}"
            )
        for name, schema in result.items():
            if not isinstance(name, str) or not _SETTINGS_NAME.fullmatch(name):
                raise ConfigError(
                    f"plugin {plugin_name}: hub_register_settings names {shown(name)}: a name is"
                    " lower-case letters, digits, '_', '-' or '.', starting with a letter"
                )
            if not (isinstance(schema, type) and issubclass(schema, Schema)):
                raise ConfigError(
                    f"plugin {plugin_name}: hub_register_settings[{name!r}] is {shown(schema)},"
                    " not a marshmallow Schema class"
                )
            if name in found and found[name] is not schema:
                raise ConfigError(
                    f"plugins {owners[name]} and {plugin_name} both register settings named {name!r}"
                )
            found[name] = schema
            owners.setdefault(name, plugin_name)
    return found


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


class PluginOutputError(ConfigError):
    """A plugin answered a hook with something the hook does not take.

    The message is one line naming the plugin, the hook and what it returned.
    """


def call_isolated(
    pm: pluggy.PluginManager,
    hook_name: str,
    *,
    on_error: Callable[[str, BaseException], None],
    around: Callable[[], AbstractContextManager[Any]] | None = None,
    check: Callable[[Any], str | None] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Call every implementation of a fan-out hook, each on its own; the results of those that ran.

    One that raises is reported to ``on_error(plugin name, error)`` (the hub logs
    and counts it) and left out: it never stops the others or the caller.
    ``around`` wraps each call (a savepoint, so a failing plugin's writes go
    with it). ``check(result)`` says what is wrong with a result (None: nothing,
    see :mod:`hub.integration.checks`); a plugin whose result is wrong has failed
    as if it raised: :class:`PluginOutputError`, naming it, the hook and the result.
    """
    results: list[Any] = []
    for plugin_name in implementers(pm, hook_name):
        try:
            with around() if around else nullcontext():
                found = call_one(pm, hook_name, plugin_name, **kwargs)
                for result in found:
                    problem = check(result) if check else None
                    if problem:
                        raise PluginOutputError(
                            f"plugin {plugin_label(pm, plugin_name)}: {hook_name} {problem}"
                        )
            results.extend(found)
        except Exception as exc:
            on_error(plugin_name, exc)
    return results
