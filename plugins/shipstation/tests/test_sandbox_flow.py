"""The hub, the connector and the ShipStation sandbox over loopback, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import requests
from sqlalchemy import select, update

from hub.channels.manage import ensure_manual_channel
from hub.channels.port import ChannelPort
from hub.core.order import Line
from hub.integration.connectors import ChannelInfo
from hub.orders import intake, records, transitions
from hub.orders.shipments import plan_fulfillment
from hub.pipeline.follow_up import enqueue_shipping_flush
from hub.queue.jobs import Worker, enqueue
from hub.store.models import FulfillmentGroup, Job, Order, WebhookEvent, utcnow
from hub.testing import order_data
from plugins.shipstation.connector import ShipStationConnector
from plugins.shipstation.sandbox import send_notice
from plugins.shipstation.tests.conftest import (
    API_KEY,
    API_SECRET,
    WEBHOOK_TOKEN,
    Listener,
    run_all,
    serve,
)


def webhook_url(hub_url: str, token: str = WEBHOOK_TOKEN) -> str:
    return f"{hub_url}/webhooks/shipstation?token={token}"


def order_state(hub, order_id: int):
    with hub.db.read() as session:
        order = session.scalars(records.order_query().where(Order.id == order_id)).one()
        return order.status, [
            (
                s.external_id,
                s.status,
                s.carrier,
                s.tracking_number,
                s.tracking_url,
                sorted((sl.order_line_id, sl.quantity) for sl in s.lines),
            )
            for s in order.shipments
        ]


def groups_of(hub, order_id: int) -> list[SimpleNamespace]:
    with hub.db.read() as session:
        return [
            SimpleNamespace(key=g.key, status=g.status, error=g.error, external_id=g.external_id)
            for g in session.scalars(
                select(FulfillmentGroup)
                .where(FulfillmentGroup.order_id == order_id)
                .order_by(FulfillmentGroup.id)
            )
        ]


def poll(hub, channel_id: int) -> None:
    with hub.db.transaction() as session:
        enqueue(session, "shipping.poll", {}, channel_id=channel_id)
    run_all(hub)


def submitted_order(hub, make_order, **overrides) -> tuple[int, str]:
    """A manual order taken by the flow all the way to ShipStation; returns (id, orderKey)."""
    order_id = make_order(hub, **overrides)
    run_all(hub)
    [group] = groups_of(hub, order_id)
    assert group.status == "submitted", group.error
    return order_id, group.key


# --- end to end -----------------------------------------------------------------------------------------


def test_a_manual_order_ships_through_shipstation_end_to_end(
    pg_hub, sandbox, shipstation_channel, hub_url, make_order
):
    hub = pg_hub
    shipstation_channel(hub)
    sandbox.subscribe(webhook_url(hub_url))
    order_id = make_order(hub)
    run_all(hub)
    # confirm → processing → submitted: the order waits at the warehouse.
    status, shipments = order_state(hub, order_id)
    assert (status, shipments) == ("processing", [])
    [group] = groups_of(hub, order_id)
    assert group.status == "submitted" and group.key == f"hub-{order_id}"
    remote = sandbox.order(group.key)
    assert str(remote["orderId"]) == group.external_id
    assert remote["orderStatus"] == "awaiting_shipment" and remote["orderNumber"] == "#1001"
    assert remote["shipTo"]["street1"] == "1 Main St" and remote["items"][0]["quantity"] == 2
    # The warehouse buys a label through the API; ShipStation tells the hub.
    label = requests.post(
        f"{sandbox.base_url}/orders/createlabelfororder",
        auth=(API_KEY, API_SECRET),
        json={
            "orderId": remote["orderId"],
            "carrierCode": "ups",
            "serviceCode": "ups_ground",
            "confirmation": "none",
            "shipDate": "2024-03-11",
        },
        timeout=10,
    ).json()
    assert label["trackingNumber"] and label["labelData"]
    assert sandbox.deliver_webhooks() == [200]
    run_all(hub)
    status, shipments = order_state(hub, order_id)
    assert status == "shipped"
    [(external_id, shipment_status, carrier, tracking, url, lines)] = shipments
    assert (external_id, shipment_status, carrier, tracking) == (
        str(label["shipmentId"]),
        "shipped",
        "UPS",
        label["trackingNumber"],
    )
    assert url == f"https://www.ups.com/track?tracknum={label['trackingNumber']}"
    with hub.db.read() as session:
        line_id = session.get(Order, order_id).lines[0].id
        assert lines == [(line_id, 2)]
        [event] = session.scalars(select(WebhookEvent)).all()
        assert (event.topic, event.status) == ("SHIP_NOTIFY", "processed")


def test_shipments_by_webhook_and_by_poll_are_recorded_once(
    pg_hub, sandbox, shipstation_channel, hub_url, make_order
):
    hub = pg_hub
    channel_id = shipstation_channel(hub)
    sandbox.subscribe(webhook_url(hub_url))
    first, first_key = submitted_order(hub, make_order)
    second, second_key = submitted_order(hub, make_order)
    sandbox.create_label(first_key)
    [(target, payload)] = sandbox.outbox
    assert sandbox.deliver_webhooks() == [200]
    # The same notice again is a duplicate, stored once.
    again = requests.post(target, json=payload, timeout=10)
    assert again.json() == {"status": "duplicate"}
    run_all(hub)
    sandbox.create_label(second_key)
    sandbox.outbox.clear()  # this webhook is lost: the poll must find the shipment
    poll(hub, channel_id)
    poll(hub, channel_id)
    for order_id in (first, second):
        status, shipments = order_state(hub, order_id)
        assert status == "shipped" and len(shipments) == 1
    with hub.db.read() as session:
        assert len(session.scalars(select(WebhookEvent)).all()) == 1


def test_a_voided_label_undoes_its_shipment(
    pg_hub, sandbox, shipstation_channel, hub_url, make_order
):
    hub = pg_hub
    channel_id = shipstation_channel(hub)
    sandbox.subscribe(webhook_url(hub_url))
    order_id, key = submitted_order(hub, make_order)
    shipment = sandbox.create_label(key, carrier="fedex")
    sandbox.deliver_webhooks()
    run_all(hub)
    assert order_state(hub, order_id)[0] == "shipped"
    poll(hub, channel_id)  # the poll window starts now
    answer = requests.post(
        f"{sandbox.base_url}/shipments/voidlabel",
        auth=(API_KEY, API_SECRET),
        json={"shipmentId": shipment["shipmentId"]},
        timeout=10,
    ).json()
    assert answer["approved"] is True
    poll(hub, channel_id)
    status, [(_, shipment_status, carrier, *_)] = order_state(hub, order_id)
    assert (status, shipment_status, carrier) == ("processing", "voided", "FedEx")
    # A new label ships it again.
    sandbox.create_label(key, carrier="dhl_express")
    sandbox.deliver_webhooks()
    run_all(hub)
    status, shipments = order_state(hub, order_id)
    assert status == "shipped" and [s[1] for s in shipments] == ["voided", "shipped"]
    assert shipments[1][4].startswith("https://www.dhl.com/")


def test_a_shipment_in_two_packages_records_each_package_with_its_tracking(
    pg_hub, sandbox, shipstation_channel, hub_url, make_order
):
    # A V1 shipment has one tracking number: each package is a label, a shipment of its own.
    hub = pg_hub
    shipstation_channel(hub)
    sandbox.subscribe(webhook_url(hub_url))
    order_id, key = submitted_order(hub, make_order)  # one line of 2 units
    line_key = sandbox.order(key)["items"][0]["lineItemKey"]
    first = sandbox.create_label(key, items={line_key: 1})
    second = sandbox.create_label(key, items={line_key: 1})
    assert sandbox.deliver_webhooks() == [200, 200]
    run_all(hub)
    status, shipments = order_state(hub, order_id)
    assert status == "shipped"
    assert [(s[0], s[3], [q for _, q in s[5]]) for s in shipments] == [
        (str(first["shipmentId"]), first["trackingNumber"], [1]),
        (str(second["shipmentId"]), second["trackingNumber"], [1]),
    ]


def test_shipments_that_do_not_name_their_order_key_reach_their_order(
    pg_hub, sandbox, shipstation_channel, hub_url, make_order
):
    hub = pg_hub
    shipstation_channel(hub)
    sandbox.subscribe(webhook_url(hub_url))
    sandbox.shipments_name_order_key = False  # as ShipStation's own list example
    order_id, key = submitted_order(hub, make_order)
    label = sandbox.create_label(key)
    assert sandbox.deliver_webhooks() == [200]
    run_all(hub)
    status, [(external_id, *_)] = order_state(hub, order_id)
    assert (status, external_id) == ("shipped", str(label["shipmentId"]))
    # Found by the orderId ShipStation answered when the order was created: no lookup request.
    assert sandbox.count("GET", f"/orders/{sandbox.order(key)['orderId']}") == 0
    # The poll, reading the same shipment again, passes over it as recorded.
    with hub.db.read() as session:
        channel_id = session.scalar(select(FulfillmentGroup.shipping_channel_id))
    notices = list(hub.connector_for_id(channel_id).fetch_shipments(utcnow().replace(year=2000)))
    assert [n.key for n in notices] == [""]
    assert ChannelPort(hub, channel_id).unchanged_shipments(notices) == {0}


def test_a_package_that_does_not_name_its_items_ships_what_is_left_of_its_group(
    pg_hub, sandbox, shipstation_channel, hub_url, make_order
):
    hub = pg_hub
    shipstation_channel(hub)
    sandbox.subscribe(webhook_url(hub_url))
    order_id, key = submitted_order(hub, make_order)  # one line of 2 units
    line_key = sandbox.order(key)["items"][0]["lineItemKey"]
    sandbox.create_label(key, items={line_key: 1})
    sandbox.create_label(key, report_items=False)  # shipmentItems: null
    assert sandbox.deliver_webhooks() == [200, 200]
    run_all(hub)
    status, shipments = order_state(hub, order_id)
    assert status == "shipped"
    assert [[q for _, q in s[5]] for s in shipments] == [[1], [1]]  # never 1 + 2 of 2
    with hub.db.read() as session:
        assert {e.status for e in session.scalars(select(WebhookEvent))} == {"processed"}


def test_split_orders_become_one_shipstation_order_per_group(
    pg_hub, sandbox, shipstation_channel, make_order
):
    hub = pg_hub
    channel_id = shipstation_channel(hub)
    order_id = make_order(
        hub,
        lines=[
            Line(sku="TSHIRT-M", name="T-shirt M", quantity=2, unit_price=1999),
            Line(sku="MUG", name="Mug", quantity=1, unit_price=1001),
        ],
    )
    with hub.unit_of_work() as work:
        session = work.session
        order = transitions.confirm(work, order_id, actor="test")
        shirt, mug = order.lines
        plan_fulfillment(
            session, order, [("EAST", {shirt.id: 2}), ("WEST", {mug.id: 1})], channel_id
        )
        transitions.apply_event(session, order, "start_fulfillment", actor="test")
    run_all(hub)
    first, second = groups_of(hub, order_id)
    assert (first.key, second.key) == (f"hub-{order_id}", f"hub-{order_id}-2")
    assert first.status == second.status == "submitted"
    assert sandbox.count("POST", "/orders/createorders") == 1  # both in one bulk call
    assert sandbox.order(first.key)["orderNumber"] == "#1001"
    assert sandbox.order(second.key)["orderNumber"] == "#1001-2"
    assert [i["sku"] for i in sandbox.order(second.key)["items"]] == ["MUG"]
    sandbox.create_label(second.key)
    poll(hub, channel_id)
    assert order_state(hub, order_id)[0] == "partially_shipped"
    sandbox.create_label(first.key)
    poll(hub, channel_id)
    status, shipments = order_state(hub, order_id)
    assert status == "shipped"
    assert sorted(s[5] for s in shipments) == sorted([[(shirt.id, 2)], [(mug.id, 1)]])


def test_a_cancellation_reaches_shipstation_unless_the_order_shipped_there(
    pg_hub, sandbox, shipstation_channel, make_order
):
    hub = pg_hub
    shipstation_channel(hub)
    kept, kept_key = submitted_order(hub, make_order)
    shipped, shipped_key = submitted_order(hub, make_order)
    sandbox.create_label(shipped_key)  # the hub has not heard yet
    with hub.db.transaction() as session:
        transitions.cancel(session, kept, actor="test", reason="customer asked")
        transitions.cancel(session, shipped, actor="test", reason="customer asked")
    run_all(hub)
    assert sandbox.order(kept_key)["orderStatus"] == "cancelled"
    assert groups_of(hub, kept)[0].status == "cancelled"
    assert sandbox.order(shipped_key)["orderStatus"] == "shipped"
    [refused] = groups_of(hub, shipped)
    assert refused.status == "cancelling" and "shipped and cannot be updated" in refused.error
    with hub.db.read() as session:
        [dead] = session.scalars(select(Job).where(Job.kind == "shipping.resubmit")).all()
        assert dead.status == "dead" and shipped_key in dead.last_error
        assert dead.payload == {"key": shipped_key}


def test_a_resend_refused_because_the_order_shipped_meanwhile_leaves_no_dead_job(
    pg_hub, sandbox, shipstation_channel, make_order, monkeypatch
):
    """A flush's answer was lost, so it sends the group again; before that answer comes back
    the warehouse ships and the hub records the shipment. ShipStation refuses to change a
    shipped order, and that refusal is moot: no error, no dead job."""
    hub = pg_hub
    channel_id = shipstation_channel(hub)
    real = ShipStationConnector.submit_orders

    def lost_answer_then_shipped(connector, orders):
        real(connector, orders)  # taken, but the answer never reached the hub
        for order in orders:
            sandbox.create_label(order.key)
        for notice in connector.fetch_shipments(utcnow() - timedelta(hours=1)):
            ChannelPort(hub, channel_id).record_shipment(notice)  # the webhook's job
        return real(connector, orders)  # the resend: refused, the order is shipped

    monkeypatch.setattr(ShipStationConnector, "submit_orders", lost_answer_then_shipped)
    order_id = make_order(hub)
    run_all(hub)
    assert order_state(hub, order_id)[0] == "shipped"
    [group] = groups_of(hub, order_id)
    assert sandbox.order(group.key)["orderStatus"] == "shipped"
    assert (group.status, group.error) == ("submitted", None)
    with hub.db.read() as session:
        assert session.scalars(select(Job).where(Job.status == "dead")).all() == []


def test_a_shipment_the_hub_cannot_take_waits_as_a_dead_job_and_the_others_go_on(
    pg_hub, sandbox, shipstation_channel, make_order
):
    hub = pg_hub
    channel_id = shipstation_channel(hub)
    cancelled, cancelled_key = submitted_order(hub, make_order)
    fine, fine_key = submitted_order(hub, make_order)
    with hub.db.transaction() as session:
        transitions.cancel(session, cancelled, actor="test", reason="fraud")
    sandbox.create_label(cancelled_key)  # shipped at the warehouse before the cancel arrived
    sandbox.create_label(fine_key)
    poll(hub, channel_id)
    assert order_state(hub, fine)[0] == "shipped"
    status, shipments = order_state(hub, cancelled)
    assert (status, shipments) == ("cancelled", [])
    # The next polls read it again (their windows overlap): still the one dead job.
    poll(hub, channel_id)
    poll(hub, channel_id)
    with hub.db.read() as session:
        [dead] = session.scalars(select(Job).where(Job.kind == "shipping.record")).all()
        assert dead.status == "dead" and "cancelled" in dead.last_error
        assert dead.payload["key"] == cancelled_key
        assert dead.payload["shipment"]["tracking_number"]


def test_a_poll_passes_over_shipments_recorded_already_unless_their_group_needs_them(
    pg_hub, sandbox, shipstation_channel, make_order, monkeypatch
):
    hub = pg_hub
    channel_id = shipstation_channel(hub)
    orders = [submitted_order(hub, make_order) for _ in range(3)]
    for _, key in orders:
        sandbox.create_label(key)
    recorded: list[str] = []
    real = ChannelPort.record_shipment

    def spy(self, notice):
        recorded.append(notice.key)
        return real(self, notice)

    monkeypatch.setattr(ChannelPort, "record_shipment", spy)
    poll(hub, channel_id)
    assert sorted(recorded) == sorted(key for _, key in orders)
    assert all(order_state(hub, order_id)[0] == "shipped" for order_id, _ in orders)

    # The next poll's window overlaps this one: it reads all three again, records none.
    recorded.clear()
    poll(hub, channel_id)
    assert recorded == []

    # A group left in error (a resend the warehouse refused) still hears of its shipment.
    order_id, key = orders[1]
    with hub.db.transaction() as session:
        session.execute(
            update(FulfillmentGroup)
            .where(FulfillmentGroup.key == key)
            .values(error="shipped and cannot be updated")
        )
    poll(hub, channel_id)
    assert recorded == [key]
    assert groups_of(hub, order_id)[0].error is None
    assert all(len(order_state(hub, order_id)[1]) == 1 for order_id, _ in orders)


# --- SSRF ------------------------------------------------------------------------------------------------


def test_a_resource_url_pointing_elsewhere_is_never_fetched(
    pg_hub, sandbox, shipstation_channel, hub_url
):
    hub = pg_hub
    shipstation_channel(hub)
    listener = Listener()
    with serve(listener) as elsewhere:
        # Same host, another port: not the API's origin.
        status = send_notice(
            webhook_url(hub_url), f"{elsewhere}/shipments?batchId=1&includeShipmentItems=True"
        )
        assert status == 200
        # A wrong token is refused before anything is stored.
        assert (
            send_notice(webhook_url(hub_url, "wrong-token-000000"), f"{sandbox.base_url}/shipments")
            == 401
        )
        assert (
            send_notice(f"{hub_url}/webhooks/shipstation", f"{sandbox.base_url}/shipments") == 401
        )
        run_all(hub)
        assert listener.requests == []
    with hub.db.read() as session:
        [event] = session.scalars(select(WebhookEvent)).all()
        assert (event.status, event.error) == (
            "ignored",
            "ignored: resource_url not on the API host",
        )
    assert sandbox.total_calls == 0


# --- limits and batches -------------------------------------------------------------------------------------


def test_250_groups_go_in_three_bulk_calls_within_the_limit(pg_hub, sandbox, shipstation_channel):
    hub = pg_hub
    # The third call must wait for the window: long enough that two bulk calls of 100
    # orders never outlast it, even on a loaded machine (2 s did, once).
    sandbox.rate_limit, sandbox.window = 2, 6.0
    channel_id = shipstation_channel(hub)
    with hub.unit_of_work() as work:
        session = work.session
        manual = ensure_manual_channel(hub, session)
        for n in range(250):
            order = intake.upsert_order(
                session, manual, order_data(external_id=f"B{n}", number=f"#B{n}"), actor="test"
            ).order
            transitions.confirm_order(work, order, actor="test")
            plan_fulfillment(session, order, [("", {order.lines[0].id: 2})], channel_id)
            transitions.apply_event(session, order, "start_fulfillment", actor="test")
        enqueue_shipping_flush(session, channel_id)
    run_all(hub, kinds=("shipping.flush",))
    assert sandbox.count("POST", "/orders/createorders") == 3
    assert sandbox.total_calls == 3 and sandbox.throttled == 0
    assert len(sandbox.orders) == 250
    assert hub.connector_for_id(channel_id).limiter.waits == 1
    with hub.db.read() as session:
        statuses = session.scalars(select(FulfillmentGroup.status)).all()
        assert statuses.count("submitted") == 250


def test_a_429_is_obeyed_before_the_request_is_sent_again(sandbox):
    sandbox.rate_limit, sandbox.window = 1, 1.5
    # Another client with the same key takes the window's only request.
    assert requests.get(f"{sandbox.base_url}/carriers", auth=(API_KEY, API_SECRET), timeout=10).ok
    connector = ShipStationConnector(
        ChannelInfo(
            id=1,
            slug="ss",
            name="SS",
            connector="shipstation",
            config={
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "webhook_token": WEBHOOK_TOKEN,
                "api_base_url": sandbox.base_url,
            },
            allow_private_targets=True,  # the sandbox listens on 127.0.0.1
        )
    )
    try:
        assert connector.check_connection().startswith("connected to ShipStation: 1 store(s)")
    finally:
        connector.close()
    # One 429, then a success: a retry before the reset would have met a second 429.
    assert sandbox.throttled == 1
    assert [status for method, path, status in sandbox.log if path == "/stores"] == [429, 200]


def _processing_orders(hub, channel_id: int, count: int) -> list[int]:
    with hub.unit_of_work() as work:
        session = work.session
        manual = ensure_manual_channel(hub, session)
        ids = []
        for n in range(count):
            order = intake.upsert_order(
                session, manual, order_data(external_id=f"C{n}", number=f"#C{n}"), actor="test"
            ).order
            transitions.confirm_order(work, order, actor="test")
            plan_fulfillment(session, order, [("", {order.lines[0].id: 2})], channel_id)
            transitions.apply_event(session, order, "start_fulfillment", actor="test")
            ids.append(order.id)
        return ids


def test_two_flushes_at_once_send_each_group_once_and_a_cancel_in_flight_still_arrives(
    pg_hub, sandbox, shipstation_channel, monkeypatch
):
    """A backlog runs several ``shipping.flush`` jobs of one channel at the same time.

    While the first flush's call is at ShipStation, a second flush runs and an
    order of the first batch is cancelled. The second sends only the groups the
    first did not take; the cancelled order's group still reaches the warehouse
    (it was on its way) and is then cancelled there.
    """
    hub = pg_hub
    channel_id = shipstation_channel(hub)
    order_ids = _processing_orders(hub, channel_id, 130)
    with hub.db.transaction() as session:
        for n in range(2):
            enqueue(session, "shipping.flush", {}, channel_id=channel_id, dedupe_key=f"flush-{n}")
    sent: list[tuple[str, str]] = []
    real_submit = ShipStationConnector.submit_orders

    def submit(connector, orders):
        sent.extend((o.key, o.status) for o in orders)
        if len(sent) == len(
            orders
        ):  # the first call: the other flush and a cancel happen meanwhile
            with hub.db.transaction() as session:
                transitions.cancel(session, order_ids[0], actor="test", reason="changed mind")
            second = Worker(hub, worker_id="second-worker", kinds=("order.event", "shipping.flush"))
            assert second.run_until_idle() >= 2
        return real_submit(connector, orders)

    monkeypatch.setattr(ShipStationConnector, "submit_orders", submit)
    run_all(hub)
    awaiting = [key for key, status in sent if status == "awaiting_shipment"]
    assert len(awaiting) == len(set(awaiting)) == 130
    assert sent.count((f"hub-{order_ids[0]}", "cancelled")) == 1
    assert sandbox.order(f"hub-{order_ids[0]}")["orderStatus"] == "cancelled"
    assert len(sandbox.orders) == 130
    with hub.db.read() as session:
        statuses = session.scalars(
            select(FulfillmentGroup.status).order_by(FulfillmentGroup.id)
        ).all()
    assert statuses == ["cancelled"] + ["submitted"] * 129


def test_a_flush_whose_worker_died_sends_its_groups_again_when_its_job_runs_again(
    pg_hub, sandbox, shipstation_channel, monkeypatch
):
    hub = pg_hub
    channel_id = shipstation_channel(hub)
    _processing_orders(hub, channel_id, 3)
    with hub.db.transaction() as session:
        enqueue(session, "shipping.flush", {}, channel_id=channel_id)

    def crash(connector, orders):
        raise KeyboardInterrupt  # the process dies with the groups claimed and nothing sent

    monkeypatch.setattr(ShipStationConnector, "submit_orders", crash)
    try:
        Worker(hub, worker_id="doomed", kinds=("shipping.flush",)).run_until_idle()
    except KeyboardInterrupt:
        pass
    with hub.db.read() as session:
        [job] = session.scalars(select(Job).where(Job.kind == "shipping.flush")).all()
        assert job.status == "running"
        claimed = session.scalars(select(FulfillmentGroup.flush_job_id)).all()
        assert claimed == [job.id] * 3
    monkeypatch.undo()
    # Another flush finds nothing to send while the dead worker's job still holds its lease ...
    with hub.db.transaction() as session:
        enqueue(session, "shipping.flush", {}, channel_id=channel_id, dedupe_key="another")
    run_all(hub, kinds=("shipping.flush",))
    assert sandbox.count("POST", "/orders/createorders") == 0
    # ... and once the lease runs out the job runs again and sends them.
    with hub.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job.id).values(locked_until=utcnow()))
    run_all(hub, kinds=("shipping.flush",))
    assert sandbox.count("POST", "/orders/createorders") == 1 and len(sandbox.orders) == 3
