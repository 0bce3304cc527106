"""Channels: configured connections, created and changed through one set of functions.

The API, the admin UI and the CLI all go through here, so config is always
validated by the connector's schema and secret fields are always encrypted.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .core.exceptions import NotFound, ValidationError
from .models import Channel, utcnow
from .runtime import Hub

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


def create_channel(hub: Hub, session: Session, *, name: str, connector: str,
                   config: dict[str, Any] | None = None, slug: str | None = None,
                   enabled: bool = True, schedule_seconds: int | None = None) -> Channel:
    """Validate the config with the connector's schema and store the channel."""
    if not (name or "").strip():
        raise ValidationError("a channel needs a name", details={"name": ["is required"]})
    cls = hub.connector_class(connector)
    loaded = cls.validate_config(config or {})
    if slug is not None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,79}", slug):
            raise ValidationError(f"slug {slug!r} must be lower-case letters, digits and dashes",
                                  details={"slug": ["invalid"]})
        if session.scalars(select(Channel.id).where(Channel.slug == slug)).first() is not None:
            raise ValidationError(f"slug {slug!r} is taken", details={"slug": ["is taken"]})
    else:
        slug = _unique_slug(session, slugify(name))
    channel = Channel(
        slug=slug, name=name.strip(), connector=connector,
        config=hub.encrypt_config(connector, loaded), enabled=enabled,
        schedule_seconds=schedule_seconds, state={}, created_at=utcnow(), updated_at=utcnow(),
    )
    session.add(channel)
    session.flush()
    return channel


def update_config(hub: Hub, session: Session, channel: Channel, changes: dict[str, Any], *,
                  replace: bool = False) -> Channel:
    """Change some config fields; a secret field left blank keeps its stored value.

    With ``replace`` (a whole form was submitted), ``changes`` is the new config:
    fields it leaves out are dropped (their schema defaults apply), except secret
    fields, which keep their stored value.
    """
    cls = hub.connector_class(channel.connector)
    secret = cls.secret_fields()
    current = hub.decrypt_config(channel.connector, channel.config)
    merged = {k: v for k, v in current.items() if k in secret} if replace else dict(current)
    for key, value in changes.items():
        if key in secret and value in (None, ""):
            continue
        merged[key] = value
    loaded = cls.validate_config(merged)
    channel.config = hub.encrypt_config(channel.connector, loaded)
    channel.updated_at = utcnow()
    return channel


def get_channel(session: Session, ref: int | str) -> Channel:
    query = select(Channel).where(Channel.id == int(ref)) if str(ref).isdigit() else \
        select(Channel).where(Channel.slug == str(ref))
    channel = session.scalars(query).one_or_none()
    if channel is None:
        raise NotFound(f"channel {ref} does not exist")
    return channel


def ensure_manual_channel(hub: Hub, session: Session) -> Channel:
    """The built-in channel for orders people enter; created once."""
    channel = session.scalars(select(Channel).where(Channel.slug == MANUAL_SLUG)).one_or_none()
    if channel is None:
        channel = create_channel(hub, session, name="Manual orders", connector="manual", slug=MANUAL_SLUG)
    return channel
