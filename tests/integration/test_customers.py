"""Customers (issue 20): every order linked across channels, merge and split, erasure and export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hub.channels.manage import create_channel, ensure_manual_channel
from hub.channels.port import ChannelPort
from hub.core.exceptions import Conflict
from hub.core.order import Address, Line
from hub.core.order import Customer as Buyer
from hub.customers import actions, privacy, queries
from hub.orders import intake
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.store.db import Database
from hub.store.models import (
    Channel,
    Customer,
    CustomerEvent,
    CustomerRef,
    Job,
    NotificationSent,
    Order,
    OrderAuditEvent,
    Payment,
)
from hub.testing import WebhookTestPlugin, order_data, truncate_all

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _with_shop(hub):
    with hub.db.transaction() as session:
        create_channel(
            hub,
            session,
            name="Shop",
            slug="shop",
            connector="webhook_test",
            config={"webhook_secret": "s3cret"},
        )
    return hub


@pytest.fixture
def shop(make_hub):
    """A hub with a second sales channel (``shop``) beside the manual one."""
    return _with_shop(make_hub(plugins=[WebhookTestPlugin()]))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_shop(request, make_hub):
    """``shop`` on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return _with_shop(make_hub(plugins=[WebhookTestPlugin()]))
    pg_url = request.getfixturevalue("pg_url")
    db = Database(pg_url)
    truncate_all(db)
    db.dispose()
    return _with_shop(make_hub(database_url=pg_url, plugins=[WebhookTestPlugin()]))


def store(hub, slug: str, n: int, buyer: Buyer, **overrides) -> int:
    values = dict(
        external_id=f"{slug}-{n}",
        number=f"#{slug}{n}",
        customer=buyer,
        placed_at=T0 + timedelta(days=n),
    )
    values.update(overrides)
    with hub.db.transaction() as session:
        if slug == "manual":
            channel = ensure_manual_channel(hub, session)
        else:
            channel = session.scalars(select(Channel).where(Channel.slug == slug)).one()
        return intake.upsert_order(session, channel, order_data(**values), actor="test").order.id


def customer_of(hub, order_id: int) -> int | None:
    with hub.db.read() as session:
        return session.get(Order, order_id).customer_id


def test_two_orders_with_one_email_typed_differently_are_one_customer(hub):
    a = store(hub, "manual", 1, Buyer(email="Ana@Example.com", name="Ana Lima"))
    b = store(hub, "manual", 2, Buyer(email=" ana@example.com", name="Ana Lima"))
    assert customer_of(hub, a) == customer_of(hub, b) is not None
    with hub.db.read() as session:
        customer = session.get(Customer, customer_of(hub, a))
        assert (customer.email, customer.name) == ("ana@example.com", "Ana Lima")


def test_orders_from_every_channel_find_their_customer_by_reference_email_then_phone(shop):
    by_email = store(shop, "manual", 1, Buyer(email="ana@example.com"))
    # The shop knows Ana by its own id and her email: linked, and the reference kept.
    by_ref = store(shop, "shop", 2, Buyer(email="ANA@example.com", external_id="c-77"))
    # Later the shop sends her id with another email: the known reference wins.
    moved_email = store(shop, "shop", 3, Buyer(email="ana.lima@work.example", external_id="c-77"))
    # A phone typed nationally, read with the shipping address's country, finds a phone typed in E.164.
    de = Address(name="Bo", address1="Str. 1", city="Berlin", zip="10115", country_code="DE")
    phone_1 = store(shop, "shop", 4, Buyer(phone="+49 151 23456789"), shipping_address=de)
    phone_2 = store(shop, "manual", 5, Buyer(phone="0151-23456789"), shipping_address=de)
    nobody = store(shop, "manual", 6, Buyer())
    nobody_2 = store(shop, "manual", 7, Buyer())

    ana = customer_of(shop, by_email)
    assert customer_of(shop, by_ref) == customer_of(shop, moved_email) == ana
    assert customer_of(shop, phone_1) == customer_of(shop, phone_2) not in (None, ana)
    # Nothing to know a buyer by: each such order is a customer of its own.
    assert None not in (customer_of(shop, nobody), customer_of(shop, nobody_2))
    assert customer_of(shop, nobody) != customer_of(shop, nobody_2)
    with shop.db.read() as session:
        assert session.get(Customer, customer_of(shop, phone_1)).phone == "+4915123456789"
        refs = session.scalars(select(CustomerRef)).all()
        assert [(r.customer_id, r.external_id) for r in refs] == [(ana, "c-77")]


def test_a_pulled_page_links_its_new_orders_like_single_ones(shop):
    with shop.db.read() as session:
        channel_id = session.scalars(select(Channel.id).where(Channel.slug == "shop")).one()
    page = [
        order_data(external_id=f"P{n}", number=f"#P{n}", customer=Buyer(email=email))
        for n, email in enumerate(["bo@example.com", "Bo@Example.com ", "cy@example.com"])
    ]
    ids = ChannelPort(shop, channel_id).upsert_orders(page)
    linked = [customer_of(shop, i) for i in ids]
    assert linked[0] == linked[1] != linked[2]
    assert None not in linked


def test_an_order_whose_buyer_changed_on_the_channel_is_linked_again(hub):
    order_id = store(hub, "manual", 1, Buyer(email="old@example.com"), updated_at=T0)
    first = customer_of(hub, order_id)
    store(hub, "manual", 1, Buyer(email="new@example.com"), updated_at=T0 + timedelta(hours=1))
    assert customer_of(hub, order_id) not in (None, first)


def test_figures_come_from_the_orders_and_leave_cancelled_and_refunded_money_out(hub):
    ana = Buyer(email="ana@example.com", name="Ana")
    kept = store(
        hub,
        "manual",
        1,
        ana,
        lines=[Line(sku="A", name="A", quantity=1, unit_price=1000)],
        shipping=0,
    )
    store(
        hub,
        "manual",
        2,
        ana,
        lines=[Line(sku="A", name="A", quantity=3, unit_price=1000)],
        shipping=0,
    )
    store(hub, "manual", 3, ana, cancelled=True)
    store(
        hub,
        "manual",
        4,
        ana,
        currency="EUR",
        lines=[Line(sku="A", name="A", quantity=1, unit_price=2500)],
        shipping=0,
    )
    with hub.db.transaction() as session:  # a refund of 5.00 on the second order
        second = session.scalars(select(Order).where(Order.external_id == "manual-2")).one()
        second.payments.append(
            Payment(
                reference="pi_2",
                currency="USD",
                amount=3000,
                captured_amount=3000,
                refunded_amount=500,
                status="partially_refunded",
            )
        )
    with hub.db.read() as session:
        figures = queries.figures(session, customer_of(hub, kept))
    assert figures.order_count == 4  # the cancelled one is history too
    assert [(s.currency, s.total, s.orders, s.average) for s in figures.spent] == [
        ("EUR", 2500, 1, 2500),
        ("USD", 1000 + 3000 - 500, 2, 1750),
    ]
    assert figures.first_order_at == T0 + timedelta(days=1)
    assert figures.last_order_at == T0 + timedelta(days=4)
    assert [c.slug for c in figures.channels] == ["manual"]
    assert len(figures.addresses) == 1 and figures.addresses[0].orders == 4


def test_a_merge_moves_orders_and_references_and_a_split_moves_exactly_those_back(any_shop):
    shop = any_shop
    a1 = store(shop, "manual", 1, Buyer(email="ana@example.com"))
    b1 = store(shop, "shop", 2, Buyer(email="ana.lima@work.example", external_id="c-9"))
    b2 = store(shop, "shop", 3, Buyer(email="ana.lima@work.example"))
    a, b = customer_of(shop, a1), customer_of(shop, b1)
    with shop.db.transaction() as session:
        merge_id = actions.merge(session, a, b, actor="admin:eve").id
    assert {customer_of(shop, i) for i in (a1, b1, b2)} == {a}
    # After the merge, B's email and reference both lead to A.
    late = store(shop, "shop", 4, Buyer(email="ana.lima@work.example", external_id="c-9"))
    assert customer_of(shop, late) == a
    with shop.db.transaction() as session:
        with pytest.raises(Conflict):
            actions.merge(session, a, b, actor="admin:eve")  # B is merged already
    with shop.db.transaction() as session:
        actions.undo_merge(session, merge_id, actor="admin:joe")
    assert [customer_of(shop, i) for i in (a1, b1, b2, late)] == [a, b, b, a]
    with shop.db.read() as session:
        assert session.get(Customer, b).merged_into_id is None
        assert session.scalars(select(CustomerRef.customer_id)).all() == [b]
        trail = [
            (e.name, e.actor)
            for e in session.scalars(select(CustomerEvent).order_by(CustomerEvent.id))
        ]
    assert trail == [
        ("customer.merged", "admin:eve"),
        ("customer.merged_into", "admin:eve"),
        ("customer.split", "admin:joe"),
        ("customer.split_from", "admin:joe"),
    ]
    with shop.db.transaction() as session, pytest.raises(Conflict):
        actions.undo_merge(session, merge_id, actor="admin:joe")


def test_erasure_blanks_the_person_and_keeps_order_numbers_lines_and_money(any_shop):
    hub = any_shop
    ana = Buyer(email="ana@example.com", name="Ana Lima", phone="+49 151 23456789")
    order_id = store(
        hub,
        "manual",
        1,
        ana,
        notes="ring Ana Lima twice",
        shipping_address=Address(
            name="Ana Lima", address1="Str. 1", city="Berlin", zip="10115", country_code="DE"
        ),
    )
    other = store(hub, "manual", 2, Buyer(email="bo@example.com", name="Bo"))
    customer_id = customer_of(hub, order_id)
    with hub.db.transaction() as session:
        order = session.get(Order, order_id)
        session.add(
            OrderAuditEvent(
                order_id=order_id,
                name="order.updated",
                actor="x",
                data={"email": "ana@example.com", "why": "Ana Lima asked"},
            )
        )
        session.add(
            NotificationSent(idempotency_key="k1", order_id=order_id, recipient="ana@example.com")
        )
        enqueue(
            session, JobKind.NOTIFY, {"event_id": 1}, order_id=order_id, dedupe_key="notify:test"
        )
        before = (order.number, order.total, order.currency, len(order.lines))
        actions.update_customer(
            session, customer_id, actor="t", tags=["vip"], note="Ana likes blue"
        )
    with hub.db.transaction() as session:
        touched = privacy.erase_customer(session, customer_id, actor="admin:eve")
    assert touched["orders"] == 1 and touched["queued_emails"] == 1
    with hub.db.read() as session:
        order = session.get(Order, order_id)
        assert (order.number, order.total, order.currency, len(order.lines)) == before
        assert (order.email, order.customer_name, order.customer_phone) == ("", "", "")
        assert order.shipping_address == {"country_code": "DE"}
        assert "Ana" not in order.notes
        customer = session.get(Customer, customer_id)
        assert (customer.email, customer.name, customer.phone, customer.note, customer.tags) == (
            "",
            "",
            "",
            "",
            [],
        )
        assert customer.erased_at is not None
        text = repr([e.data for e in order.events]) + repr([e.reason for e in order.events])
        assert "ana@example.com" not in text.lower() and "Ana Lima" not in text
        assert session.scalars(select(NotificationSent.recipient)).all() == ["[erased]"]
        assert (
            session.scalar(
                select(func.count(Job.id)).where(
                    Job.kind == JobKind.NOTIFY, Job.order_id == order_id
                )
            )
            == 0
        )
        trail = session.scalars(
            select(CustomerEvent)
            .where(CustomerEvent.customer_id == customer_id)
            .order_by(CustomerEvent.id)
        ).all()
        assert trail[-1].name == "customer.erased" and trail[-1].actor == "admin:eve"
        assert "blue" not in repr([e.data for e in trail])
        assert session.get(Order, other).email == "bo@example.com"  # nobody else's data
    # Ana orders again: a new customer, never the erased one; her old order takes nothing back.
    again = store(hub, "manual", 3, ana)
    assert customer_of(hub, again) not in (None, customer_id)
    store(hub, "manual", 1, ana, notes="ring Ana Lima", updated_at=T0 + timedelta(days=9))
    with hub.db.read() as session:
        assert session.get(Order, order_id).email == ""
        assert "Ana" not in session.get(Order, order_id).notes
        assert session.get(Order, order_id).customer_id == customer_id


def test_export_hands_over_what_the_hub_keeps_and_is_audited(hub):
    ana = Buyer(email="ana@example.com", name="Ana Lima")
    store(hub, "manual", 1, ana)
    order_id = store(hub, "manual", 2, ana)
    with hub.db.transaction() as session:
        data = privacy.export_customer(session, customer_of(hub, order_id), actor="admin:eve")
    assert data["customer"]["email"] == "ana@example.com"
    assert [o["number"] for o in data["orders"]] == ["#manual1", "#manual2"]
    assert data["orders"][0]["lines"][0]["unit_price"] == "19.99"
    assert data["figures"]["order_count"] == 2
    with hub.db.read() as session:
        names = session.scalars(select(CustomerEvent.name)).all()
    assert names == ["customer.exported"]


def _migration_0015():
    import importlib.util
    from pathlib import Path

    import hub.store

    path = Path(hub.store.__file__).parent / "migrations" / "versions" / "0015_customers.py"
    spec = importlib.util.spec_from_file_location("migration_0015", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_links_orders_stored_before_customers_by_the_same_rule(any_shop):
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import delete, update

    hub = any_shop
    de = Address(name="Bo", address1="Str. 1", city="Berlin", zip="10115", country_code="DE")
    ids = [
        store(hub, "manual", 1, Buyer(email="Ana@Example.com")),
        store(hub, "shop", 2, Buyer(email="ana@example.com ", external_id="c-1")),
        store(hub, "shop", 3, Buyer(email="other@example.com", external_id="c-1")),
        store(hub, "shop", 4, Buyer(phone="+49 151 23456789")),
        store(hub, "manual", 5, Buyer(phone="0151 23456789"), shipping_address=de),
        store(hub, "manual", 6, Buyer()),
    ]
    linked_by_intake = [customer_of(hub, i) for i in ids]
    with hub.db.transaction() as session:  # as the hub was before customers existed
        session.execute(update(Order).values(customer_id=None))
        session.execute(delete(CustomerRef))
        session.execute(delete(Customer))
    with hub.db.engine.begin() as conn:
        with Operations.context(MigrationContext.configure(conn)):
            _migration_0015()._backfill()
    backfilled = [customer_of(hub, i) for i in ids]
    assert None not in backfilled

    def groups(linked):
        return [[i for i, c in enumerate(linked) if c == x] for x in dict.fromkeys(linked)]

    assert groups(backfilled) == groups(linked_by_intake) == [[0, 1, 2], [3, 4], [5]]
    with hub.db.read() as session:
        assert session.scalars(select(CustomerRef.external_id)).all() == ["c-1"]
