"""The webhook inbox: verify the raw bytes, store, answer; process later in a job.

:func:`receive` is what ``POST /webhooks/<channel-slug>`` calls. Nothing is
parsed before the connector verified the signature on the raw body; a bad
signature stores nothing. The stored event is unique per (channel, provider
event id): the same delivery again answers ``duplicate`` and adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from .core.exceptions import MalformedPayload, NotFound, SignatureError
from .jobs import enqueue
from .models import Channel, WebhookEvent, utcnow
from .runtime import Hub

log = logging.getLogger(__name__)

#: Headers never stored with an event: they carry credentials or signatures.
_DROP_HEADERS = {"authorization", "cookie", "proxy-authorization"}

# Built once: ingest is the hub's hottest path, and building a statement per
# request cost more than running it (profiled with `make bench`, (a)).
_CHANNEL_BY_SLUG = select(Channel).where(Channel.slug == bindparam("slug"))
_STORE_EVENT = insert(WebhookEvent.__table__).returning(WebhookEvent.__table__.c.id)


@dataclass(frozen=True)
class Receipt:
    status: str  # accepted | duplicate
    event_id: int | None


def receive(hub: Hub, slug: str, headers: Mapping[str, str], body: bytes,
            query: Mapping[str, str]) -> Receipt:
    """Verify and store one inbound webhook; enqueue its processing.

    :raises NotFound: unknown or disabled channel (404).
    :raises SignatureError: missing or bad signature (401); nothing is stored.
    :raises MalformedPayload: verified but unreadable (400).
    """
    with hub.db.read() as session:
        channel = session.scalars(_CHANNEL_BY_SLUG, {"slug": slug}).one_or_none()
        if channel is None or not channel.enabled:
            raise NotFound(f"no enabled channel {slug!r}")
        connector = hub.connector_for(channel)
        channel_id = channel.id
    try:
        receipt = connector.verify_webhook(headers, body, query)
    except SignatureError:
        hub.metrics.webhooks.labels(channel=slug, outcome="rejected").inc()
        log.warning("webhook for %s refused: bad or missing signature", slug)
        raise
    except MalformedPayload:
        hub.metrics.webhooks.labels(channel=slug, outcome="malformed").inc()
        raise
    kept = {k: v for k, v in headers.items() if k.lower() not in _DROP_HEADERS}
    try:
        with hub.db.transaction() as session:
            event_id = session.execute(_STORE_EVENT, {
                "channel_id": channel_id, "event_id": receipt.event_id, "topic": receipt.topic,
                "headers": kept, "body": body.decode("utf-8", errors="replace"), "status": "received",
                "attempts": 0, "received_at": utcnow()}).scalar_one()
            enqueue(session, "webhook.process", {"webhook_event_id": event_id}, channel_id=channel_id,
                    dedupe_key=f"webhook.process:{event_id}")
    except IntegrityError:
        hub.metrics.webhooks.labels(channel=slug, outcome="duplicate").inc()
        return Receipt("duplicate", None)
    hub.metrics.webhooks.labels(channel=slug, outcome="accepted").inc()
    return Receipt("accepted", event_id)


def replay(hub: Hub, webhook_event_id: int) -> int:
    """Process a stored event again (after a fix); returns the new job's id."""
    with hub.db.transaction() as session:
        event = session.get(WebhookEvent, webhook_event_id)
        if event is None:
            raise NotFound(f"webhook event {webhook_event_id} does not exist")
        event.status = "received"
        event.error = None
        return enqueue(session, "webhook.process", {"webhook_event_id": event.id},
                       channel_id=event.channel_id)
