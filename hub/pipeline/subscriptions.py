"""``channel.webhooks``: a channel's webhook subscriptions at its provider, made to match it.

Enqueued by :mod:`hub.channels.subscriptions` whenever a channel whose connector
declares ``Capability.REGISTER_WEBHOOKS`` is created, changed, enabled, disabled
or deleted. The job reads the channel as it is when it runs, so the last
change wins however many jobs ran before it.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from hub.channels.subscriptions import (
    STATE_KEY,
    Registration,
    RegistrationStatus,
    announce,
    callback_url,
    registers_webhooks,
)
from hub.core.exceptions import HubError
from hub.queue.jobs import JobContext
from hub.runtime.hub import Hub
from hub.store.models import Channel, utcnow

log = logging.getLogger(__name__)


def sync_channel_webhooks(ctx: JobContext) -> None:
    """Subscribe an enabled channel's webhooks; remove a disabled (or deleted) one's.

    Enabled: ``connector.sync_webhooks(address)``, after removing those sent
    to an older address (the hub's public URL changed). Disabled: if
    anything may still be subscribed, ``connector.remove_webhooks(address)``.
    A gone channel needs nothing (deleting one removes its webhooks first).
    The outcome, or the error, is kept in the channel's state; an error
    also fails the job, which is retried as any other.
    """
    hub = ctx.hub
    channel_id = ctx.require_channel()
    with hub.db.read() as session:
        channel = session.get(Channel, channel_id)
        if channel is None or not registers_webhooks(hub.connectors.get(channel.connector)):
            return
        enabled = channel.enabled
        address = callback_url(hub.settings.public_url, channel.slug)
        before = Registration.of(channel)
        if not enabled and (before is None or not before.may_be_subscribed):
            return
        connector = hub.connector_for(channel)
    try:
        if enabled:
            if before and before.may_be_subscribed and before.address not in ("", address):
                connector.remove_webhooks(before.address)
            topics = connector.sync_webhooks(address)
            outcome = Registration(
                RegistrationStatus.REGISTERED, address, utcnow(), tuple(sorted(topics))
            )
        else:
            assert before is not None
            removed = connector.remove_webhooks(before.address)
            outcome = Registration(
                RegistrationStatus.REMOVED, before.address, utcnow(), tuple(sorted(removed))
            )
    except Exception as exc:
        failed = RegistrationStatus.REGISTER_FAILED if enabled else RegistrationStatus.REMOVE_FAILED
        error = exc.message if isinstance(exc, HubError) else f"{type(exc).__name__}: {exc}"
        tried = address if enabled or before is None else before.address
        _record(
            hub,
            channel_id,
            Registration(failed, tried, utcnow(), error=error),
            acted_on=(enabled, address),
        )
        raise
    log.info(
        "channel %s: webhooks %s (%s) at %s",
        channel_id,
        outcome.status,
        ", ".join(outcome.topics) or "none",
        outcome.address,
    )
    _record(hub, channel_id, outcome, acted_on=(enabled, address))


def _record(
    hub: Hub, channel_id: int, outcome: Registration, *, acted_on: tuple[bool, str]
) -> None:
    """Keep ``outcome`` in the channel's state; if the channel changed meanwhile, run again.

    The row is locked while its state is merged, so a pull saving its cursor
    at the same time keeps this key and this keeps its cursor.
    """
    with hub.db.transaction() as session:
        channel = session.scalars(
            select(Channel).where(Channel.id == channel_id).with_for_update()
        ).one_or_none()
        if channel is None:
            return
        channel.state = {**(channel.state or {}), STATE_KEY: outcome.to_state()}
        if (channel.enabled, callback_url(hub.settings.public_url, channel.slug)) != acted_on:
            # Enabled or disabled while this ran: what it did is already out of date.
            announce(session, channel)
