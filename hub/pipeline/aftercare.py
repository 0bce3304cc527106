"""``aftercare.satisfaction_checks``: every channel's delivered orders that are due a
satisfaction check, each looked at once in a transaction of its own (see
:mod:`hub.aftercare.checks`). Run hourly; a second run finds nothing it did."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select

from hub.aftercare import checks
from hub.aftercare.links import Links, Signer
from hub.integration.connectors import NotificationConnector
from hub.queue.jobs import JobContext
from hub.runtime.hub import as_role
from hub.store.models import Channel, utcnow

if TYPE_CHECKING:
    from hub.runtime.hub import Hub

log = logging.getLogger(__name__)

EVERY_SECONDS = 3600
#: The purpose the links' key is derived for from the hub's secret key.
KEY_PURPOSE = "aftercare-links"


def aftercare_links(hub: Hub) -> Links:
    """The signed links of the hub's satisfaction checks, at its public address."""
    return Links(hub.settings.public_url, Signer(hub.secrets.derive(KEY_PURPOSE)))


def someone_sends_checks(hub: Hub) -> bool:
    """Whether an enabled notification channel sends the satisfaction check's email."""
    with hub.db.read() as session:
        enabled = session.scalars(select(Channel).where(Channel.enabled.is_(True))).all()
        return any(
            as_role(hub.connector_for(channel), NotificationConnector).wants(
                checks.SATISFACTION_CHECK
            )
            for channel in enabled
            if channel.connector in hub.connectors
            and "notification" in hub.connectors[channel.connector].roles
        )


def send_satisfaction_checks(ctx: JobContext) -> None:
    hub = ctx.hub
    links = aftercare_links(hub)
    now = utcnow()
    with hub.db.read() as session:
        policies = checks.enabled_policies(session)
    if policies and not someone_sends_checks(hub):
        # Each order is asked once, ever: never spend that on an email nobody sends.
        log.warning(
            "satisfaction checks are on, but no enabled notification channel sends "
            "order.satisfaction_check: no order is looked at until one does"
        )
        return
    for policy in policies:
        while True:
            with hub.db.read() as session:
                due = checks.due_orders(session, policy, now)
            failed = 0
            for order_id in due:
                # Each order in its own transaction: one that fails leaves the rest to go on
                # (and is looked at again on the next run).
                try:
                    with hub.db.transaction() as session:
                        checks.send_check(session, order_id, links)
                except Exception:
                    failed += 1
                    log.exception("satisfaction check of order %s failed", order_id)
            if len(due) < checks.BATCH or failed == len(due):
                break
