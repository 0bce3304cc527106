"""The write paths `make bench` tuned keep their promises: races, writer turns, one flush per new order."""

import threading

import pytest
from sqlalchemy import func, select

from hub.core.exceptions import ConcurrencyError
from hub.core.order import PaymentData
from hub.orders import intake
from hub.queue.jobs import enqueue
from hub.store.models import Channel, Job, Order, OrderAuditEvent, Payment
from hub.testing import order_data


def _manual(session) -> Channel:
    return session.scalars(select(Channel).where(Channel.slug == "manual")).one()


def test_losing_the_race_to_create_an_order_spoils_nothing_else_in_the_transaction(
    any_hub, monkeypatch
):
    with any_hub.db.transaction() as session:
        intake.upsert_order(session, _manual(session), order_data(external_id="RACE"), actor="test")
    # Another writer stored RACE after our lookup found nothing: our insert must lose cleanly.
    monkeypatch.setattr(intake, "find_order", lambda *args, **kwargs: None)
    with any_hub.db.transaction() as session:
        kept = intake.upsert_order(
            session, _manual(session), order_data(external_id="KEPT"), actor="test"
        ).order.id
        with pytest.raises(ConcurrencyError, match="created concurrently"):
            intake.upsert_order(
                session, _manual(session), order_data(external_id="RACE"), actor="test"
            )
        enqueue(session, "notify", {"after": "the race"})
    with any_hub.db.read() as session:
        assert sorted(session.scalars(select(Order.external_id))) == ["KEPT", "RACE"]
        assert (
            session.scalar(
                select(func.count())
                .select_from(OrderAuditEvent)
                .where(OrderAuditEvent.order_id == kept)
            )
            == 1
        )
        assert (
            session.scalar(select(func.count()).select_from(Job).where(Job.kind == "notify")) == 1
        )


def test_a_new_order_is_stored_whole_with_its_payment_and_derived_statuses(any_hub):
    data = order_data(
        external_id="PAID", payments=[PaymentData(reference="pi_1", amount=0, status="captured")]
    )
    data.payments[0].amount = data.payments[0].captured_amount = data.total or data.computed_total
    with any_hub.db.transaction() as session:
        order_id = intake.upsert_order(session, _manual(session), data, actor="test").order.id
    with any_hub.db.read() as session:
        order = session.get(Order, order_id)
        assert (order.financial_status, order.fulfillment_status, order.version) == (
            "paid",
            "unfulfilled",
            1,
        )
        assert [
            p.reference
            for p in session.scalars(select(Payment).where(Payment.order_id == order_id))
        ] == ["pi_1"]
        assert [line.sku for line in order.lines] == [line.sku for line in data.lines]
        created = session.scalars(
            select(OrderAuditEvent).where(OrderAuditEvent.order_id == order_id)
        ).one()
        job = session.scalars(
            select(Job).where(Job.kind == "order.event", Job.order_id == order_id)
        ).one()
        assert (created.name, job.payload) == ("order.created", {"event_id": created.id})


def test_writers_of_one_process_all_commit_when_they_write_at_once(hub):
    """SQLite has one writer: threads queue for it instead of failing with "database is locked"."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(n: int) -> None:
        start.wait()
        try:
            for i in range(10):
                with hub.db.transaction() as session:
                    enqueue(session, "notify", {"n": n, "i": i}, dedupe_key=f"writers:{n}:{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with hub.db.read() as session:
        assert (
            session.scalar(select(func.count()).select_from(Job).where(Job.kind == "notify")) == 80
        )
