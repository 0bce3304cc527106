"""``aftercare.satisfaction_checks``: every channel's delivered orders that are due a
satisfaction check, each looked at once in a transaction of its own (see
:mod:`hub.aftercare.checks`). Run hourly; a second run finds nothing it did."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hub.aftercare import checks
from hub.aftercare.links import Links, Signer
from hub.queue.jobs import JobContext
from hub.store.models import utcnow

if TYPE_CHECKING:
    from hub.runtime.hub import Hub

log = logging.getLogger(__name__)

EVERY_SECONDS = 3600
#: The purpose the links' key is derived for from the hub's secret key.
KEY_PURPOSE = "aftercare-links"


def aftercare_links(hub: Hub) -> Links:
    """The signed links of the hub's satisfaction checks, at its public address."""
    return Links(hub.settings.public_url, Signer(hub.secrets.derive(KEY_PURPOSE)))


def send_satisfaction_checks(ctx: JobContext) -> None:
    hub = ctx.hub
    links = aftercare_links(hub)
    now = utcnow()
    with hub.db.read() as session:
        policies = checks.enabled_policies(session)
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
