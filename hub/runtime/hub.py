"""The running hub: settings, database, plugins and connectors in one object.

Every entry point (CLI, web app, worker, scheduler, tests) builds one
:class:`Hub` and passes it down; nothing is global.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pluggy
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from hub.core.exceptions import ConfigError, NotFound
from hub.integration.connectors import ChannelInfo, Connector
from hub.integration.jobs import PeriodicJob
from hub.integration.manager import (
    collect_connectors,
    collect_job_handlers,
    collect_settings_schemas,
    get_plugin_manager,
)
from hub.runtime.metrics import Metrics
from hub.runtime.plugin_settings import PluginSettingsStore
from hub.runtime.work import UnitOfWork
from hub.store.config import Settings
from hub.store.db import Database, after_commit
from hub.store.models import Channel
from hub.store.secrets import SecretBox

log = logging.getLogger(__name__)

_Role = TypeVar("_Role", bound=Connector)

# What connector_for and channel_info read of a channel, as one Core row.
_WEBHOOK_CHANNEL = select(
    Channel.id,
    Channel.slug,
    Channel.name,
    Channel.connector,
    Channel.config,
    Channel.state,
    Channel.enabled,
).where(Channel.slug == bindparam("slug"))


class Hub:
    def __init__(
        self,
        settings: Settings,
        *,
        pm: pluggy.PluginManager | None = None,
        db: Database | None = None,
    ):
        self.settings = settings
        self.db = db or Database(settings.database_url)
        self.pm = pm or get_plugin_manager()
        self.connectors: dict[str, type[Connector]] = collect_connectors(self.pm)
        self.job_handlers = collect_job_handlers(self.pm)
        #: What a job reaches through its context (``ctx.erp()``: ``"erp"``), by name:
        #: ``factory(hub, channel_id)``, from ``hub_register_services`` (the hub's own plugin).
        self.services: dict[str, Callable[[Hub, int], Any]] = {}
        for found in self.pm.hook.hub_register_services():
            for name, factory in (found or {}).items():
                if name in self.services:
                    raise ConfigError(f"two plugins register the hub service {name!r}")
                self.services[name] = factory
        self.secrets = SecretBox.for_data_dir(settings.data_dir, settings.secret_key)
        #: Settings of plugins that are not connectors (``hub_register_settings``).
        self.plugin_settings = PluginSettingsStore(collect_settings_schemas(self.pm), self.secrets)
        # With the database: gauges of jobs and orders are read from it at scrape time.
        self.metrics = Metrics(self.db)
        self._connector_cache: dict[int, tuple[Any, Connector]] = {}
        self._lock = threading.Lock()
        #: Per-hub state of modules that need one (the inbox's group commit).
        self.extensions: dict[Any, Any] = {}
        # slug -> (read again after, (channel id, connector) or None): webhook_connector.
        self._webhook_routes: dict[str, tuple[float, tuple[int, Connector] | None]] = {}
        # What other parts started for this hub and must stop with it (see on_close).
        self._closers: list[Callable[[], None]] = []
        event.listen(self.db.sessions, "after_flush", self._note_channel_changes)

    @classmethod
    def from_env(cls, **overrides) -> Hub:
        return cls(Settings.from_env(**overrides))

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """A transaction (:meth:`Database.transaction`) with the plugins and settings beside it."""
        with self.db.transaction() as session:
            yield UnitOfWork(
                session,
                pm=self.pm,
                settings=self.settings,
                plugin_settings=self.plugin_settings,
                incoming=self.service("incoming_stock"),
                rates=self.service("rate_quotes"),
            )

    def service(self, name: str, channel_id: int = 0) -> Any:
        """The hub service ``name`` (``hub_register_services``), or None if no plugin offers it."""
        factory = self.services.get(name)
        return None if factory is None else factory(self, channel_id)

    def read_plugin_settings(self, name: str) -> dict[str, Any]:
        """A plugin's settings as it runs with them (see :mod:`hub.runtime.plugin_settings`).

        :raises NotFound: no plugin registers settings named ``name``.
        """
        with self.db.read() as session:
            return self.plugin_settings.read(session, name)

    # --- connectors and channels -----------------------------------------------

    def connector_class(self, name: str) -> type[Connector]:
        try:
            return self.connectors[name]
        except KeyError:
            raise NotFound(
                f"no connector named {name!r} (installed: {', '.join(sorted(self.connectors))})"
            ) from None

    def encrypt_config(self, connector: str, config: dict[str, Any]) -> dict[str, Any]:
        """Return config ready to store: secret fields encrypted."""
        secret = self.connector_class(connector).secret_fields()
        return {
            k: (self.secrets.encrypt(str(v)) if k in secret and v not in (None, "") else v)
            for k, v in config.items()
        }

    def decrypt_config(self, connector: str, stored: dict[str, Any]) -> dict[str, Any]:
        secret = self.connector_class(connector).secret_fields()
        return {
            k: (self.secrets.decrypt(v) if k in secret else v) for k, v in (stored or {}).items()
        }

    def validate_config(
        self, connector: str, config: Mapping[str, Any], *, channel: Channel | None = None
    ) -> dict[str, Any]:
        """The config as the connector's schema loads it, checked against this hub too
        (:meth:`Connector.check_config`: an ERP folder under the ERP root …).

        :param channel: the channel whose config this becomes (None: a new channel).
        :raises ValidationError: with field errors.
        """
        draft = channel or Channel(id=0, slug="", name="", connector=connector, enabled=True)
        return self.connector_class(connector).validate_config(
            config, channel=self.channel_info(draft)
        )

    def channel_info(self, channel: Channel | Any) -> ChannelInfo:
        return ChannelInfo(
            id=channel.id,
            slug=channel.slug,
            name=channel.name,
            connector=channel.connector,
            config=self.decrypt_config(channel.connector, channel.config),
            state=dict(channel.state or {}),
            enabled=channel.enabled,
            metrics=self.metrics,
            public_url=self.settings.public_url,
            allow_private_targets=self.settings.allow_private_targets,
            erp_root=self.settings.erp_folder,
            files_dir=self.channel_files(channel),
        )

    def channel_files(self, channel: Channel | Any) -> Path | None:
        """The channel's private folder: its id and when it was made (SQLite may give a
        deleted channel's id to the next one, which must not find the old one's files)."""
        created = getattr(channel, "created_at", None)
        if not channel.id or created is None:
            return None
        return self.settings.data_dir / "channels" / f"{channel.id}-{created:%Y%m%d%H%M%S%f}"

    def connector_for(self, channel: Channel | Any) -> Connector:
        """The connector instance of a channel, kept while its config is unchanged.

        Keeping it keeps its HTTP session (and keep-alive connections) alive.
        """
        cls = self.connector_class(channel.connector)
        # Not updated_at: it moves with every saved pull cursor (channel.state),
        # and rebuilding the connector each time would drop its session and caches.
        stamp = (channel.enabled, channel.slug, channel.name, repr(channel.config))
        with self._lock:
            cached = self._connector_cache.get(channel.id)
            if cached and cached[0] == stamp:
                return cached[1]
            connector = cls(self.channel_info(channel))
            self._time_http_clients(connector)
            if cached:
                cached[1].close()
            self._connector_cache[channel.id] = (stamp, connector)
            return connector

    def _time_http_clients(self, connector: Connector) -> None:
        """Time every HttpClient the connector holds in this hub's metrics (per connector)."""
        from hub.integration.http import HttpClient

        for value in vars(connector).values():
            if isinstance(value, HttpClient) and value.metrics is None:
                value.metrics = self.metrics

    def webhook_connector(self, slug: str, *, fresh: bool = False) -> tuple[int, Connector]:
        """The enabled channel ``slug``'s id and connector, for webhook ingest.

        Ingest is the hub's hottest path, and reading the channel cost more than
        storing the event (``make bench`` (a)), so what is read is kept for
        ``settings.channel_cache_seconds``. A change to a channel made in this
        process forgets it at once (see :meth:`forget_channels`); one made in
        another process applies within that time. ``fresh`` reads it again
        (a signature that failed against what was kept is checked once more).

        :raises NotFound: no such channel, or it is disabled.
        """
        now = time.monotonic()
        kept = None if fresh else self._webhook_routes.get(slug)
        if kept is None or kept[0] <= now:
            with self.db.read_engine.connect() as conn:
                channel = conn.execute(_WEBHOOK_CHANNEL, {"slug": slug}).first()
            route = None
            if channel is not None and channel.enabled:
                route = (channel.id, self.connector_for(channel))
            kept = (now + self.settings.channel_cache_seconds, route)
            if self.settings.channel_cache_seconds > 0:
                self._webhook_routes[slug] = kept
        if kept[1] is None:
            raise NotFound(f"no enabled channel {slug!r}")
        return kept[1]

    def _note_channel_changes(self, session: Session, _flush_context: Any) -> None:
        """A transaction that changed a channel makes ingest read channels afresh once it commits."""
        if any(isinstance(o, Channel) for o in (*session.new, *session.dirty, *session.deleted)):
            after_commit(session, "hub.forget_channels", self.forget_channels)

    def forget_channels(self) -> None:
        """Read channels afresh for webhooks (called after any channel changes here)."""
        self._webhook_routes.clear()

    def connector_for_id(self, channel_id: int) -> Connector:
        with self.db.read() as session:
            channel = session.get(Channel, channel_id)
            if channel is None:
                raise NotFound(f"channel {channel_id} does not exist")
            return self.connector_for(channel)

    def periodic_jobs(self) -> list[PeriodicJob]:
        """Plugin-declared periodic jobs plus each enabled channel's scheduled jobs."""
        jobs: list[PeriodicJob] = []
        for result in self.pm.hook.hub_register_periodic_jobs():
            jobs.extend(result or [])
        with self.db.read() as session:
            for channel in session.scalars(select(Channel).where(Channel.enabled.is_(True))):
                cls = self.connectors.get(channel.connector)
                if cls is None:
                    log.warning(
                        "channel %s uses unknown connector %s", channel.slug, channel.connector
                    )
                    continue
                for kind, every in cls.scheduled_jobs.items():
                    jobs.append(
                        PeriodicJob(
                            kind=kind,
                            every_seconds=channel.schedule_seconds or every,
                            channel_id=channel.id,
                        )
                    )
        return jobs

    def on_close(self, callback: Callable[[], None]) -> None:
        """Have :meth:`close` call ``callback`` (a thread started for this hub stops there)."""
        with self._lock:
            self._closers.append(callback)

    def close(self) -> None:
        """Stop every thread started for this hub, close connectors, release the database."""
        with self._lock:
            closers, self._closers = self._closers, []
        for stop in reversed(closers):
            try:
                stop()
            except Exception:
                log.exception("stopping %r failed", stop)
        with self._lock:
            for _, connector in self._connector_cache.values():
                try:
                    connector.close()
                except Exception:
                    log.exception("closing a connector failed")
            self._connector_cache.clear()
        self.db.dispose()


def as_role(connector: Connector, role: type[_Role]) -> _Role:
    """``connector`` as ``role``: the role class whose operations the caller is about to use
    (:class:`~hub.integration.connectors.PaymentConnector` …).

    :raises ConfigError: the connector does not play that role (its channel's
        connector was changed since the work was asked for).
    """
    if not isinstance(connector, role):
        raise ConfigError(
            f"channel {connector.channel.slug}: the {connector.name} connector "
            f"is not a {role.roles[0]} connector"
        )
    return connector
