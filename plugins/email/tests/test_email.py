"""Customer emails through a real SMTP server: one per (order, event), whatever happens."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from hub.channels.manage import create_channel
from hub.core.exceptions import ExternalError, ValidationError
from hub.core.order import PaymentUpdate, RefundData, ShipmentData
from hub.notifications import outbox as notifications
from hub.notifications.queries import search_attempts
from hub.orders import payments, records, shipments, transitions
from hub.queue.jobs import retry
from hub.store.models import Job, Order, utcnow
from plugins.email.tests.conftest import SmtpServer, free_port


def add_channel(hub, port, name="Customer email", **config) -> int:
    settings = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from_address": "orders@shop.example",
        "from_name": "Example Shop",
        "timeout_seconds": 5,
    }
    settings.update(config)
    with hub.db.transaction() as session:
        return create_channel(hub, session, name=name, connector="email", config=settings).id


def notify_jobs(hub) -> list[SimpleNamespace]:
    with hub.db.read() as session:
        return [
            SimpleNamespace(id=j.id, status=j.status, last_error=j.last_error)
            for j in session.scalars(select(Job).where(Job.kind == "notify").order_by(Job.id))
        ]


def run_due_retries(hub, run_jobs) -> None:
    with hub.db.transaction() as session:
        session.execute(
            update(Job).where(Job.status == "failed").values(run_at=utcnow() - timedelta(seconds=1))
        )
    run_jobs(hub)


def attempts(hub) -> list[dict]:
    with hub.db.read() as session:
        found = search_attempts(session, limit=500).rows
        return [notifications.attempt_dict(a) for a in reversed(found)]


def test_smtp_down_then_up_sends_exactly_one_email(any_hub, make_order, run_jobs):
    hub = any_hub
    server = SmtpServer()  # its port is free: nothing listens yet
    add_channel(hub, server.port, events="order.confirmed")
    make_order(hub)

    run_jobs(hub)
    [job] = notify_jobs(hub)
    assert job.status == "failed" and "unreachable" in job.last_error
    try:
        server.start()
        run_due_retries(hub, run_jobs)
        [job] = notify_jobs(hub)
        assert job.status == "succeeded"
        # A person retries the job anyway, or a replay enqueues it again: still one email.
        with hub.db.transaction() as session:
            session.get(Job, job.id).status = "dead"
            retry(session, job.id)
        run_jobs(hub)
    finally:
        server.stop()

    assert len(server.messages) == 1
    assert [(a["attempt"], a["outcome"]) for a in attempts(hub)] == [(1, "failed"), (2, "sent")]
    assert all(a["recipient"] == "ann@example.com" for a in attempts(hub))


def test_a_550_answer_makes_the_job_dead_with_the_servers_reason(
    hub, smtp_server, make_order, run_jobs
):
    smtp_server.mailbox.rcpt_reply = (
        "550 5.1.1 <ann@example.com>: Recipient address rejected: mailbox unavailable"
    )
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed")
    make_order(hub)

    run_jobs(hub)

    [job] = notify_jobs(hub)
    assert job.status == "dead"
    assert (
        "550" in job.last_error
        and "Recipient address rejected: mailbox unavailable" in job.last_error
    )
    [attempt] = attempts(hub)
    assert (attempt["outcome"], attempt["status_code"]) == ("failed", 550)
    assert "mailbox unavailable" in attempt["error"]
    assert smtp_server.messages == []


def test_a_4xx_answer_is_retried_later(hub, smtp_server, make_order, run_jobs):
    smtp_server.mailbox.rcpt_reply = "451 4.3.0 Greylisted, try again later"
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed")
    make_order(hub)

    run_jobs(hub)
    [job] = notify_jobs(hub)
    assert job.status == "failed" and "451" in job.last_error

    smtp_server.mailbox.rcpt_reply = None
    run_due_retries(hub, run_jobs)
    assert len(smtp_server.messages) == 1


def connections(peers) -> list[int]:
    """How many messages went over each connection, in order."""
    runs: list[int] = []
    for i, peer in enumerate(peers):
        if i and peer == peers[i - 1]:
            runs[-1] += 1
        else:
            runs.append(1)
    return runs


def test_emails_share_a_connection_until_the_server_drops_it(
    hub, smtp_server, make_order, run_jobs
):
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed")
    for _ in range(3):
        make_order(hub)
    run_jobs(hub)
    assert connections(smtp_server.mailbox.peers) == [3]

    # The server restarts while the hub holds an idle connection: the next email
    # goes over a new one, at the first attempt.
    smtp_server.stop()
    smtp_server.start()
    make_order(hub)
    run_jobs(hub)

    assert connections(smtp_server.mailbox.peers) == [3, 1]
    assert [j.status for j in notify_jobs(hub)] == ["succeeded"] * 4
    assert [a["outcome"] for a in attempts(hub)] == ["sent"] * 4


def test_a_connection_carries_a_bounded_number_of_messages_and_none_after_an_error(
    hub, smtp_server, make_order, run_jobs, monkeypatch
):
    import plugins.email as email_connector

    monkeypatch.setattr(email_connector, "MESSAGES_PER_CONNECTION", 2)
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed")
    for _ in range(5):
        make_order(hub)
    run_jobs(hub)
    assert connections(smtp_server.mailbox.peers) == [2, 2, 1]

    smtp_server.mailbox.rcpt_reply = "451 4.3.0 Greylisted, try again later"
    make_order(hub)
    run_jobs(hub)
    smtp_server.mailbox.rcpt_reply = None
    run_due_retries(hub, run_jobs)

    peers = smtp_server.mailbox.peers
    assert len(peers) == 6 and peers[5] not in peers[:5]


def test_the_confirmation_has_a_subject_a_text_part_an_html_part_and_a_stable_message_id(
    hub, smtp_server, make_order, run_jobs
):
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed", reply_to="help@shop.example")
    order_id = make_order(hub, number="#1001")

    run_jobs(hub)

    [mail] = smtp_server.messages
    assert mail["Subject"] == "Your order #1001 is confirmed"
    assert mail["From"] == "Example Shop <orders@shop.example>"
    assert mail["To"] == "Ann Smith <ann@example.com>"
    assert mail["Reply-To"] == "help@shop.example"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hello Ann Smith" in text and "2 x T-shirt M (TSHIRT-M): $19.99 each" in text
    assert "Total: $44.98" in text
    assert "<strong>#1001</strong>" in html and "$44.98" in html
    with hub.db.read() as session:
        token = session.get(Order, order_id).tracking_token
        [sent] = notifications.list_sent(session)
    assert f"http://127.0.0.1:8000/track/{token}" in text
    assert mail["Message-ID"] == sent["message_id"]
    assert mail["Message-ID"].endswith("@shop.example>")


def test_the_shipped_email_links_the_carrier_tracking_and_the_order_page(
    make_hub, smtp_server, make_order, run_jobs
):
    hub = make_hub(public_url="https://shop.example/")
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.shipped")
    order_id = make_order(hub, number="#1002")
    run_jobs(hub)
    with hub.db.transaction() as session:
        shipments.ship(
            session,
            order_id,
            ShipmentData(
                external_id="S1",
                carrier="UPS",
                service="Ground",
                tracking_number="1Z999AA10123456784",
            ),
            actor="user:ann",
        )
    run_jobs(hub)

    [mail] = smtp_server.messages
    assert mail["Subject"] == "Your order #1002 has shipped"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Tracking number: 1Z999AA10123456784" in text
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in text
    assert 'href="https://www.ups.com/track?tracknum=1Z999AA10123456784"' in html
    with hub.db.read() as session:
        token = session.get(Order, order_id).tracking_token
    assert f"https://shop.example/track/{token}" in text
    assert f'href="https://shop.example/track/{token}"' in html


def test_cancelled_and_refunded_emails(hub, smtp_server, make_order, run_jobs):
    smtp_server.start()
    add_channel(hub, smtp_server.port)
    order_id = make_order(hub, number="#1003")
    run_jobs(hub)
    with hub.db.transaction() as session:
        transitions.cancel(session, order_id, actor="user:ann", reason="out of stock")
    run_jobs(hub)
    with hub.db.transaction() as session:  # a payment taken outside the hub, refunded by hand
        order = records.get_order(session, order_id)
        from hub.store.models import Payment

        order.payments.append(
            Payment(
                reference="pi_1",
                currency="USD",
                amount=4498,
                captured_amount=4498,
                status="captured",
            )
        )
        session.flush()
        payments.apply_payment_update(
            session,
            PaymentUpdate(
                reference="pi_1",
                occurred_at=utcnow(),
                refunds=[RefundData(external_id="re_1", amount=4498, status="succeeded")],
            ),
            actor="user:ann",
        )
    run_jobs(hub)

    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects == [
        "Your order #1003 is confirmed",
        "Your order #1003 was cancelled",
        "A refund of $44.98 for your order #1003",
    ]
    cancelled = smtp_server.messages[1].get_body(("plain",)).get_content()
    assert "was cancelled (out of stock)" in cancelled


def test_a_templates_folder_overrides_templates_by_name(
    hub, smtp_server, make_order, run_jobs, tmp_path
):
    (tmp_path / "confirmed.subject.txt").write_text("Merci ! Commande {{ order.number }} confirmée")
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed", templates_dir=str(tmp_path))
    make_order(hub, number="#1004")

    run_jobs(hub)

    [mail] = smtp_server.messages
    assert mail["Subject"] == "Merci ! Commande #1004 confirmée"
    assert "Total: $44.98" in mail.get_body(("plain",)).get_content()  # the built-in body


def test_a_broken_override_template_is_a_dead_job_naming_it(
    hub, smtp_server, make_order, run_jobs, tmp_path
):
    (tmp_path / "confirmed.txt").write_text("Hello {{ order.customer.nmae.upper() }}")
    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed", templates_dir=str(tmp_path))
    make_order(hub)

    run_jobs(hub)

    [job] = notify_jobs(hub)
    assert job.status == "dead" and "email template confirmed cannot be rendered" in job.last_error
    assert smtp_server.messages == []


def test_an_order_without_email_is_skipped_and_said_so(hub, smtp_server, make_order, run_jobs):
    from hub.core.order import Customer

    smtp_server.start()
    add_channel(hub, smtp_server.port, events="order.confirmed")
    make_order(hub, customer=Customer(name="Walk-in"))

    run_jobs(hub)

    assert smtp_server.messages == []
    [attempt] = attempts(hub)
    assert attempt["outcome"] == "skipped" and "has no customer email" in attempt["error"]
    assert [j.status for j in notify_jobs(hub)] == ["succeeded"]


def test_login_is_used_and_the_password_stays_secret(hub, make_order, run_jobs):
    from aiosmtpd.smtp import AuthResult

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"app-password", handled=False)

    # PLAIN only: aiosmtpd's LOGIN does not take smtplib's initial response.
    server = SmtpServer(
        authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"]
    ).start()
    try:
        channel_id = add_channel(
            hub,
            server.port,
            name="Customer email with a login",
            events="order.confirmed",
            username="shop",
            password="app-password",
        )
        with hub.db.read() as session:
            from hub.store.models import Channel

            assert "app-password" not in str(session.get(Channel, channel_id).config)
        make_order(hub)
        run_jobs(hub)
        assert len(server.messages) == 1 and logins == [(b"shop", b"app-password")]

        bad = add_channel(
            hub, server.port, events="order.confirmed", username="shop", password="wrong"
        )
        make_order(hub)
        run_jobs(hub)
    finally:
        server.stop()
    with hub.db.read() as session:
        job = session.scalars(select(Job).where(Job.kind == "notify", Job.channel_id == bad)).one()
        assert job.status == "dead" and "refused the login: 535" in job.last_error
        assert "wrong" not in job.last_error


def test_check_connection_reaches_the_server(hub, smtp_server):
    smtp_server.start()
    channel_id = add_channel(hub, smtp_server.port)
    assert (
        hub.connector_for_id(channel_id)
        .check_connection()
        .startswith(f"connected to 127.0.0.1:{smtp_server.port}")
    )


def test_a_private_smtp_host_is_refused_alike_whether_its_port_is_open_or_closed(
    make_hub, smtp_server
):
    smtp_server.start()
    hub = make_hub(allow_private_targets=False)
    said = []
    for name, port in (("Open", smtp_server.port), ("Closed", free_port())):
        with hub.db.transaction() as session:
            channel = create_channel(
                hub,
                session,
                name=name,
                connector="email",
                config={
                    "smtp_host": "127.0.0.1",
                    "smtp_port": port,
                    "security": "none",
                    "from_address": "orders@shop.example",
                },
            )
        with pytest.raises(ExternalError) as caught:
            hub.connector_for_id(channel.id).check_connection()
        said.append((caught.value.message, caught.value.retryable))

    assert said == 2 * [
        ("SMTP: 127.0.0.1 is a loopback address; set HUB_ALLOW_PRIVATE_TARGETS=1 to allow", False)
    ]


def test_the_config_is_validated_for_people():
    from plugins.email import EmailConnector

    with pytest.raises(ValidationError) as exc:
        EmailConnector.validate_config(
            {
                "smtp_host": "",
                "security": "tls",
                "from_address": "nope",
                "events": "order.created",
                "templates_dir": "/no/such/dir",
            }
        )
    assert set(exc.value.details) == {
        "smtp_host",
        "security",
        "from_address",
        "events",
        "templates_dir",
    }
    assert EmailConnector.secret_fields() == {"password"}
    fields = EmailConnector.config_schema().fields
    assert all(f.metadata.get("label") and f.metadata.get("help") for f in fields.values())
