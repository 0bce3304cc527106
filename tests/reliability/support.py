"""What the reliability tests share: waiting for the flow to settle, and the once-only proofs.

Every proof counts where the effect happened (the sandboxes), never only in the
hub's own tables.
"""

from __future__ import annotations

import os
import time
from collections import Counter

from sqlalchemy import func, select

from hub.demo.sandboxes import Sandboxes
from hub.demo.scenario import (
    FROM_ADDRESS,
    OPEN_STATUSES,
    DemoChannels,
    periodic_kinds,
    progress,
)
from hub.runtime.hub import Hub
from hub.store.models import (
    Channel,
    FulfillmentGroup,
    Job,
    NotificationAttempt,
    NotificationSent,
    Order,
)

#: The suite's size: small in CI (a few minutes in all), larger by hand.
ORDERS = int(os.environ.get("HUB_RELIABILITY_ORDERS", "40"))


def wait_until_settled(
    hub: Hub,
    sandboxes: Sandboxes,
    n_orders: int,
    *,
    timeout: float,
    open_statuses=OPEN_STATUSES,
    alive=lambda: True,
) -> dict:
    """Wait until every order is in and done, no job is left to run and nothing is in flight."""
    kinds = periodic_kinds(hub)
    deadline = time.monotonic() + timeout
    quiet = None
    state = {}
    while time.monotonic() < deadline:
        alive()
        state = progress(hub, kinds)
        settled = (
            state["orders"] >= n_orders
            and state["open_jobs"] == 0
            and sum(state["by_status"].get(s, 0) for s in open_statuses) == 0
            and sandboxes.courier.idle
            and not sandboxes.shipstation.outbox
        )
        if settled:
            quiet = quiet or time.monotonic()
            if time.monotonic() - quiet > 1.0:
                return state
        else:
            quiet = None
        time.sleep(0.25)
    raise AssertionError(f"the flow did not settle in {timeout:.0f} s: {state}")


def drain(hub: Hub, *, timeout: float = 60.0) -> None:
    """Run every job still queued, failed or running with a lapsed lease, here, until none is left."""
    from hub.queue.jobs import Worker

    worker = Worker(hub, worker_id="reliability-drain")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.run_until_idle()
        with hub.db.read() as session:
            left = (
                session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.status.in_(("queued", "running", "failed")))
                )
                or 0
            )
        if not left:
            return
        time.sleep(0.2)


def job_statuses(hub: Hub) -> dict[str, int]:
    with hub.db.read() as session:
        return dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())


def dead_jobs(hub: Hub) -> list[tuple[str, str]]:
    with hub.db.read() as session:
        return [
            (j.kind, j.last_error or "")
            for j in session.scalars(select(Job).where(Job.status == "dead"))
        ]


def assert_orders_once(hub: Hub, sandboxes: Sandboxes) -> None:
    """Every order of the stores exists once in the hub, and nothing else does."""
    with hub.db.read() as session:
        rows = session.execute(
            select(Channel.connector, Order.external_id).join(
                Channel, Order.channel_id == Channel.id
            )
        )
        counts = Counter(tuple(row) for row in rows)
    assert sorted(counts) == sorted(sandboxes.order_keys())
    assert set(counts.values()) == {1}


def assert_captured_once(sandboxes: Sandboxes, n_orders: int) -> None:
    """One capture per order at Stripe, each of the whole amount authorised."""
    stripe = sandboxes.stripe
    assert stripe.effects["captures"] == n_orders
    intents = [stripe.intents[i] for i in sandboxes.intent_ids()]
    assert all(i["status"] == "succeeded" and i["amount_received"] == i["amount"] for i in intents)


def assert_labelled_and_fulfilled_once(hub: Hub, sandboxes: Sandboxes) -> None:
    """One label per fulfilment group at ShipStation, each told once to the order's store:
    a Shopify fulfilment, or a WooCommerce note (every WooCommerce order completed)."""
    with hub.db.read() as session:
        keys = set(session.scalars(select(FulfillmentGroup.key)))
    labels = Counter(s["orderKey"] for s in sandboxes.shipstation.shipments if not s["voided"])
    assert set(labels) == keys
    assert set(labels.values()) == {1}
    fulfilments = sandboxes.shop.fulfillments
    tracking = Counter(f["tracking_number"] for v in fulfilments.values() for f in v)
    woo = sandboxes.woo
    if woo is not None:
        numbers = {s["trackingNumber"] for s in sandboxes.shipstation.shipments}
        for notes in woo.notes.values():
            tracking.update(n for n in numbers for note in notes if n in note["note"])
    assert sum(tracking.values()) == len(keys)
    assert set(tracking.values()) == {1}  # each label's tracking number pushed once
    for order_id in sandboxes.shop.order_ids:
        assert sandboxes.shop.order(order_id)["fulfillment_status"] == "fulfilled"
    for order_id in woo.order_ids if woo is not None else ():
        assert woo.order(order_id)["status"] == "completed"


def notification_ledger(hub: Hub, channel_id: int) -> tuple[set[str], Counter]:
    """The keys a notification channel delivered, and per key its attempts left ``sending``."""
    with hub.db.read() as session:
        sent = set(
            session.scalars(
                select(NotificationSent.idempotency_key).where(
                    NotificationSent.channel_id == channel_id
                )
            )
        )
        in_doubt = Counter(
            session.scalars(
                select(NotificationAttempt.idempotency_key).where(
                    NotificationAttempt.channel_id == channel_id,
                    NotificationAttempt.outcome == "sending",
                )
            )
        )
    return sent, in_doubt


def assert_emails_once(
    hub: Hub, sandboxes: Sandboxes, channels: DemoChannels, *, exact: bool
) -> None:
    """Every email the ledger says was sent reached the SMTP server; copies only where the hub knows.

    Exactly once is what SMTP can promise only while the hub does not die
    between the server's ``250`` and the ledger's commit. When it dies there,
    the retry sends a second copy with the same Message-ID, and the attempt it
    died in stays ``sending`` in the hub. So: the distinct Message-IDs are
    exactly the ledger's emails; each Message-ID seen more than once belongs
    to a notification with attempts left ``sending``, and has at most one
    extra copy per such attempt. With ``exact`` (nothing was killed), no copy at all.
    """
    from plugins.email.render import message_id

    sent, in_doubt = notification_ledger(hub, channels.email)
    expected = {message_id(key, FROM_ADDRESS): key for key in sent}
    # Alerts to the admins (a channel failing, stock running low) are not notifications:
    # no ledger lists them, and whether faults raise one depends on the dice.
    seen = {
        mid: copies
        for mid, copies in sandboxes.smtp.message_ids.items()
        if mid not in sandboxes.smtp.alert_ids
    }
    assert set(seen) == set(expected), (
        f"at the server, not in the ledger: {sorted(set(seen) - set(expected))}; "
        f"in the ledger, not at the server: {sorted(expected[m] for m in set(expected) - set(seen))}"
    )
    for mid, copies in seen.items():
        assert copies - 1 <= in_doubt[expected[mid]], (mid, copies, in_doubt[expected[mid]])
    if exact:
        assert all(copies == 1 for copies in seen.values()) and not in_doubt


def assert_webhooks_once(
    hub: Hub, sandboxes: Sandboxes, channels: DemoChannels, *, allowed_extra: Counter | None = None
) -> None:
    """Every delivery the ledger records reached the receiver, signed; copies only where accounted for.

    ``allowed_extra`` adds copies a test knows were possible (answers lost to
    injected timeouts, where the receiver got the request and the hub did not hear back).
    """
    sent, in_doubt = notification_ledger(hub, channels.webhook)
    receiver = sandboxes.receiver
    assert receiver.bad_signatures == 0
    assert set(receiver.delivery_ids) == sent
    extra = receiver.duplicates
    assert extra <= sum(in_doubt.values()) + sum((allowed_extra or Counter()).values())
