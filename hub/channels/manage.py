"""Channels: configured connections, created and changed through one set of functions.

The API, the admin UI and the CLI all go through here, so config is always
validated by the connector's schema and secret fields are always encrypted.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.channels import subscriptions
from hub.core.exceptions import Conflict, NotFound, ValidationError
from hub.inventory.levels import push_all_again, pushes_stock
from hub.queue.jobs import enqueue
from hub.runtime.hub import Hub
from hub.store.models import Channel, Job, JobStatus, Order, utcnow
from hub.store.secrets import MASK

MANUAL_SLUG = "manual"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (name or "").lower()).strip("-")
    return slug[:80] or "channel"


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 1
    while session.scalars(select(Channel.id).where(Channel.slug == slug)).first() is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def check_name_free(session: Session, name: str, *, channel_id: int | None = None) -> str:
    """The name trimmed, or ValidationError when another channel is called that.

    Names are compared without case or surrounding spaces: "EU store" and
    "eu store " would be told apart by nobody in a list of channels.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError("a channel needs a name", details={"name": ["is required"]})
    query = select(Channel.id).where(func.lower(Channel.name) == name.lower())
    if channel_id is not None:
        query = query.where(Channel.id != channel_id)
    if session.scalars(query).first() is not None:
        raise ValidationError(
            f"a channel named {name!r} exists already",
            details={"name": [f"another channel is named “{name}”: choose another name"]},
        )
    return name


def create_channel(
    hub: Hub,
    session: Session,
    *,
    name: str,
    connector: str,
    config: dict[str, Any] | None = None,
    slug: str | None = None,
    enabled: bool = True,
    schedule_seconds: int | None = None,
) -> Channel:
    """Validate the config (schema, then checks against this hub) and store the channel.

    An enabled channel whose connector registers its webhooks gets a
    ``channel.webhooks`` job to subscribe them (:mod:`hub.channels.subscriptions`).
    """
    name = check_name_free(session, name)
    loaded = hub.validate_config(connector, config or {})
    if slug is not None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", slug):
            raise ValidationError(
                f"slug {slug!r} must be lower-case letters, digits and dashes",
                details={"slug": ["invalid"]},
            )
        if session.scalars(select(Channel.id).where(Channel.slug == slug)).first() is not None:
            raise ValidationError(f"slug {slug!r} is taken", details={"slug": ["is taken"]})
    else:
        slug = _unique_slug(session, slugify(name))
    channel = Channel(
        slug=slug,
        name=name.strip(),
        connector=connector,
        config=hub.encrypt_config(connector, loaded),
        enabled=enabled,
        schedule_seconds=schedule_seconds,
        state={},
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(channel)
    session.flush()
    if enabled and subscriptions.registers_webhooks(hub.connectors.get(connector)):
        subscriptions.announce(session, channel)
    return channel


def update_config(
    hub: Hub, session: Session, channel: Channel, changes: dict[str, Any], *, replace: bool = False
) -> Channel:
    """Change some config fields; a secret field left blank keeps its stored value.

    With ``replace`` (a whole form was submitted), ``changes`` is the new config:
    fields it leaves out are dropped (their schema defaults apply), except secret
    fields, which keep their stored value. A changed config of a connector that
    registers its webhooks has them registered again (new credentials, a new shop),
    and one of a channel that takes stock is sent all of it at the next push
    (a location newly mapped, another shop).
    """
    cls = hub.connector_class(channel.connector)
    secret = cls.secret_fields()
    current = hub.decrypt_config(channel.connector, channel.config)
    merged = {k: v for k, v in current.items() if k in secret} if replace else dict(current)
    for key, value in changes.items():
        # The mask is what answers show for a stored secret: sent back, it keeps it too.
        if key in secret and value in (None, "", MASK):
            continue
        merged[key] = value
    loaded = hub.validate_config(channel.connector, merged, channel=channel)
    changed = loaded != current
    channel.config = hub.encrypt_config(channel.connector, loaded)
    channel.updated_at = utcnow()
    if changed and channel.enabled and subscriptions.registers_webhooks(cls):
        subscriptions.announce(session, channel)
    if changed and pushes_stock(cls):
        push_all_again(session, channel.id)
    return channel


def set_enabled(hub: Hub, session: Session, channel: Channel, enabled: bool) -> Channel:
    """Enable or disable a channel: a disabled one is not pulled, pushed to or sent webhooks.

    Its webhooks follow (a ``channel.webhooks`` job): subscribed again when it is
    enabled, removed at the provider when it is disabled. Setting what is set
    already changes nothing.
    """
    if channel.enabled == enabled:
        return channel
    channel.enabled = enabled
    channel.updated_at = utcnow()
    registration = subscriptions.Registration.of(channel)
    wanted = enabled or (registration is not None and registration.may_be_subscribed)
    if wanted and subscriptions.registers_webhooks(hub.connectors.get(channel.connector)):
        subscriptions.announce(session, channel)
    return channel


def get_channel(session: Session, ref: int | str) -> Channel:
    query = (
        select(Channel).where(Channel.id == int(ref))
        if str(ref).isdigit()
        else select(Channel).where(Channel.slug == str(ref))
    )
    channel = session.scalars(query).one_or_none()
    if channel is None:
        raise NotFound(f"channel {ref} does not exist")
    return channel


def ensure_manual_channel(hub: Hub, session: Session) -> Channel:
    """The built-in channel for orders people enter; created once."""
    channel = session.scalars(select(Channel).where(Channel.slug == MANUAL_SLUG)).one_or_none()
    if channel is None:
        channel = create_channel(
            hub, session, name="Manual orders", connector="manual", slug=MANUAL_SLUG
        )
    return channel


# --- reading, linking, syncing and deleting (REST API and admin UI) ----------------


def masked_config(hub: Hub, channel: Channel) -> dict[str, Any]:
    """The channel's config as answers may show it: a stored secret is ``MASK``, never its value."""
    secret = (
        hub.connector_class(channel.connector).secret_fields()
        if channel.connector in hub.connectors
        else frozenset(
            k for k, v in (channel.config or {}).items() if isinstance(v, dict) and "$enc" in v
        )
    )
    return {
        key: ((MASK if value not in (None, "") else "") if key in secret else value)
        for key, value in (channel.config or {}).items()
    }


def link_channels(
    hub: Hub,
    session: Session,
    channel: Channel,
    *,
    payment_channel_id: int | None = None,
    shipping_channel_id: int | None = None,
    set_payment: bool = False,
    set_shipping: bool = False,
) -> Channel:
    """Name the payment and/or shipping channel a sales channel's orders use (None: the default)."""
    for role, wanted, setting in (
        ("payment", payment_channel_id, set_payment),
        ("shipping", shipping_channel_id, set_shipping),
    ):
        if not setting:
            continue
        field = f"{role}_channel_id"
        if wanted is not None:
            other = session.get(Channel, wanted)
            if other is None:
                raise ValidationError(
                    f"channel {wanted} does not exist",
                    details={field: [f"channel {wanted} does not exist"]},
                )
            cls = hub.connectors.get(other.connector)
            if cls is None or role not in cls.roles:
                raise ValidationError(
                    f"channel {other.slug} is not a {role} channel",
                    details={field: [f"channel {other.slug} is not a {role} channel"]},
                )
        setattr(channel, field, wanted)
    channel.updated_at = utcnow()
    return channel


def request_sync(hub: Hub, session: Session, channel: Channel) -> list[int]:
    """Enqueue the channel's scheduled work (a pull of orders, a poll of shipments) to run now.

    A job of the same kind already queued or running for the channel is
    reused, so pressing "sync" twice does the work once. Returns the job ids.

    :raises Conflict: the channel is disabled.
    :raises ValidationError: its connector has nothing to sync.
    """
    cls = hub.connector_class(channel.connector)
    if not cls.scheduled_jobs:
        raise ValidationError(
            f"the {channel.connector} connector has nothing to sync",
            details={"connector": [f"{channel.connector} neither pulls nor polls"]},
        )
    if not channel.enabled:
        raise Conflict(f"channel {channel.slug} is disabled: enable it first")
    ids = []
    for kind in cls.scheduled_jobs:
        existing = session.scalars(
            select(Job.id)
            .where(
                Job.kind == kind,
                Job.channel_id == channel.id,
                Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)),
            )
            .order_by(Job.id)
        ).first()
        if existing is None:
            existing = enqueue(session, kind, {}, channel_id=channel.id)
            assert existing is not None  # no dedupe key: always a new job
        ids.append(existing)
    return ids


#: A job in these statuses has work still to do (a failed one waits for its retry).
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)


def delete_channel(session: Session, channel: Channel) -> int:
    """Delete a channel that no order belongs to (its inbox goes with it) and no job needs.

    A channel whose jobs are unfinished is not deleted under them: it is
    disabled instead, so nothing new is scheduled for it while they drain,
    and can be deleted once they are done. So is a channel whose webhooks
    are subscribed at the provider: disabled, with a ``channel.webhooks`` job
    that removes them (it needs the channel's credentials), then deletable.
    If removing them fails for good, the error shows on the channel and the
    next delete goes ahead.

    :return: 0 when deleted; otherwise how many of its jobs are unfinished
        (the channel is now disabled, not deleted).
    :raises Conflict: orders reference it (disable it instead), or it is the built-in manual channel.
    """
    if channel.slug == MANUAL_SLUG:
        raise Conflict("the built-in manual channel cannot be deleted")
    count = session.scalar(
        select(func.count()).select_from(Order).where(Order.channel_id == channel.id)
    )
    if count:
        raise Conflict(
            f"channel {channel.slug} cannot be deleted: {count} order(s) belong to it; disable it instead",
            details={"orders": count},
        )
    pending = int(
        session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.channel_id == channel.id, Job.status.in_([s.value for s in UNFINISHED]))
        )
        or 0
    )
    registration = subscriptions.Registration.of(channel)
    if registration is not None and registration.may_be_subscribed:
        # Its webhooks go first, while the channel and its credentials are still there.
        channel.enabled = False
        if subscriptions.pending_job(session, channel.id) is None:
            subscriptions.announce(session, channel)
            pending += 1
    if pending:
        channel.enabled = False
        channel.updated_at = utcnow()
        session.flush()
        return pending
    session.delete(channel)
    session.flush()
    return 0
