"""What plugins are installed and what each brings: the one listing ``hub plugins`` and the
admin UI show.

Built from the plugin manager alone (no database): each plugin's hooks are
called on their own (:func:`hub.integration.manager.call_one`), so what a
plugin brings is told apart from what the others bring, and a plugin whose
registration hook raises is listed with the error instead of hiding the rest.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from hub.integration.connectors import Connector
from hub.integration.jobs import PeriodicJob
from hub.integration.manager import DEFAULT_PLUGINS, call_one

#: ``version`` of a plugin that is part of the hub itself (:data:`DEFAULT_PLUGINS`).
BUNDLED = "bundled"
#: ``version`` of a plugin registered by import name or by code, not from a distribution.
UNPACKAGED = "unpackaged"


@dataclass(frozen=True)
class ConnectorListing:
    """One connector a plugin registers, as a person reads it."""

    name: str
    label: str
    roles: list[str]
    capabilities: list[str]
    #: Jobs the scheduler runs for every enabled channel of it: ``{kind: seconds}``.
    scheduled_jobs: dict[str, int]
    config_fields: list[str]
    secret_fields: list[str]


@dataclass(frozen=True)
class PeriodicJobListing:
    kind: str
    every_seconds: int


@dataclass(frozen=True)
class PluginListing:
    """One installed plugin: where it came from and what it brings."""

    name: str
    #: The distribution's version when installed through the ``hub.plugins`` entry
    #: points; ``"bundled"`` for the hub's own; ``"unpackaged"`` otherwise.
    version: str
    #: ``hub`` (part of the hub), ``entry point``, ``HUB_PLUGINS`` or ``registered`` (by code).
    source: str
    #: The distribution that installed it (``hub`` for the bundled connectors), if any.
    distribution: str | None
    module: str
    hooks: list[str]
    connectors: list[ConnectorListing] = field(default_factory=list)
    job_kinds: list[str] = field(default_factory=list)
    periodic_jobs: list[PeriodicJobListing] = field(default_factory=list)
    sandboxes: list[str] = field(default_factory=list)
    #: What went wrong asking it (a registration hook that raised), one line each.
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def list_plugins(pm: pluggy.PluginManager) -> list[PluginListing]:
    """Every plugin registered with ``pm``, by name, with what it registers."""
    dists: dict[int, Any] = {  # pluggy's DistFacade: a Distribution's attributes
        id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()
    }
    named_in_env = {n.strip() for n in os.environ.get("HUB_PLUGINS", "").split(",") if n.strip()}
    return [
        _describe(pm, name, plugin, dists.get(id(plugin)), named_in_env)
        for name, plugin in sorted(pm.list_name_plugin(), key=lambda pair: pair[0])
    ]


def _describe(
    pm: pluggy.PluginManager,
    name: str,
    plugin: object,
    dist: Any,
    named_in_env: set[str],
) -> PluginListing:
    if dist is not None:
        source, version = "entry point", dist.version
    elif name in DEFAULT_PLUGINS:
        source, version = "hub", BUNDLED
    else:
        source = "HUB_PLUGINS" if name in named_in_env else "registered"
        version = str(getattr(plugin, "__version__", "") or UNPACKAGED)
    hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
    errors: list[str] = []

    def ask(hook: str) -> list[Any]:
        if hook not in hooks:
            return []
        try:
            return [found for found in call_one(pm, hook, name) if found]
        except Exception as exc:  # noqa: BLE001 - listed, so one bad plugin hides nothing else
            errors.append(f"{hook} raised {exc.__class__.__name__}: {exc}")
            return []

    connectors = [
        _connector(cls)
        for found in ask("hub_register_connectors")
        for cls in found
        if isinstance(cls, type) and issubclass(cls, Connector)
    ]
    periodic = [
        PeriodicJobListing(job.kind, job.every_seconds)
        for found in ask("hub_register_periodic_jobs")
        for job in found
        if isinstance(job, PeriodicJob)
    ]
    return PluginListing(
        name=name,
        version=version,
        source=source,
        distribution=dist.metadata["Name"] if dist is not None else None,
        module=_module_of(plugin),
        hooks=hooks,
        connectors=sorted(connectors, key=lambda c: c.name),
        job_kinds=sorted(kind for found in ask("hub_register_job_handlers") for kind in found),
        periodic_jobs=periodic,
        sandboxes=sorted(n for found in ask("hub_register_sandboxes") for n in found),
        errors=errors,
    )


def _module_of(plugin: object) -> str:
    """A module's name; for a plugin object, its class's dotted path."""
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    kind = plugin if isinstance(plugin, type) else type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"


def _connector(cls: type[Connector]) -> ConnectorListing:
    try:
        fields = list(cls.config_schema().fields)
        secrets = sorted(cls.secret_fields())
    except Exception:  # noqa: BLE001 - a listing shows what it can; the hub refuses it elsewhere
        fields, secrets = [], []
    return ConnectorListing(
        name=cls.name,
        label=cls.label or (cls.__doc__ or "").strip().split("\n")[0],
        roles=list(cls.roles),
        capabilities=sorted(str(c) for c in cls.capabilities),
        scheduled_jobs=dict(cls.scheduled_jobs),
        config_fields=fields,
        secret_fields=secrets,
    )
