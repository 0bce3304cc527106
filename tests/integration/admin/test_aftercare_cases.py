"""After delivery, as the customer and the merchant see it: the satisfaction check email
(a real SMTP server counts), "yes" → one review request with the channel's link, "no" →
the form → a case in the admin and the API → a replacement order that reserves stock;
no review request after a return or an opt-out; a second run of the job sends nothing."""

from __future__ import annotations

import io
import os
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hub.accounts.users import create_token
from hub.aftercare import policy as policies
from hub.cases import actions as cases
from hub.cases import photos as case_photos
from hub.channels.manage import ensure_manual_channel
from hub.customers import privacy
from hub.inventory.levels import available_by_sku
from hub.returns.actions import ReturnLineRequest, ReturnRequest, create_return
from hub.store.models import (
    Case,
    Channel,
    Job,
    Order,
    Return,
    SatisfactionCheck,
)
from hub.testing import ApiClient
from plugins.email.tests.conftest import SmtpServer
from tests.support.aftercare_shop import delivered_order, open_shop, run_checks

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def shop(admin_hub, smtp):
    """Stock of two SKUs, a customer email channel, the satisfaction check on (7 days)."""
    open_shop(admin_hub, smtp, review_url_template="{product_url}#reviews?order={order_number}")
    return admin_hub


def checks_sent(smtp) -> list:
    return [m for m in smtp.messages if m["X-Hub-Event"] == "order.satisfaction_check"]


def review_requests(smtp) -> list:
    return [m for m in smtp.messages if m["X-Hub-Event"] == "order.review_requested"]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link(message, label: str) -> str:
    url = re.search(rf"{label}: (\S+)", text_of(message)).group(1)
    return urlsplit(url).path


def to_of(message) -> str:
    return message["To"].addresses[0].addr_spec


@pytest.mark.parametrize("admin_hub", ["sqlite", "postgresql"], indirect=True)
def test_yes_sends_one_review_request_with_the_channels_link(shop, smtp, run_jobs, browser):
    hub = shop
    order_id = delivered_order(hub, run_jobs, n=1)
    delivered_order(hub, run_jobs, n=2, days_ago=3)  # not due yet

    run_checks(hub, run_jobs)
    run_checks(hub, run_jobs)  # the second run sends nothing again

    [check] = checks_sent(smtp)
    assert to_of(check) == "cust1@example.com"
    assert "Did your order #A1 arrive well?" == check["Subject"]
    assert check["List-Unsubscribe"].startswith("<http") and check["List-Unsubscribe-Post"]
    html = check.get_body(preferencelist=("html",)).get_content()
    assert "Yes, all is well" in html and "No, something is wrong" in html

    yes = link(check, "Yes, all is well")
    page = browser.get(yes)
    assert page.status_code == 200 and "Did everything arrive well?" in page.get_data(True)
    answer = browser.post(yes)
    assert answer.status_code == 200
    assert "https://shop.example/products/MUG#reviews?order=%23A1" in answer.get_data(True)
    browser.post(yes)  # clicked twice: still one review request
    run_jobs(hub)

    [review] = review_requests(smtp)
    body = text_of(review)
    assert "Blue mug: https://shop.example/products/MUG#reviews?order=%23A1" in body
    assert "Tee: https://shop.example/products/TEE#reviews?order=%23A1" in body
    assert review["List-Unsubscribe"]
    # Another order's link does not open this one; a forged token opens nothing.
    assert browser.get(yes.replace("/yes", "/no")[:-8] + "xx/no").status_code == 404
    with hub.db.read() as session:
        row = session.scalars(
            select(SatisfactionCheck).where(SatisfactionCheck.order_id == order_id)
        ).one()
        assert (row.outcome, row.answer) == ("sent", "yes")


def test_no_opens_a_case_that_a_replacement_resolves_reserving_stock(shop, smtp, run_jobs, browser):
    hub = shop
    order_id = delivered_order(hub, run_jobs, n=3)
    run_checks(hub, run_jobs)
    [check] = checks_sent(smtp)
    no = link(check, "No, something is wrong")

    form = browser.get(no)
    assert form.status_code == 200 and "What went wrong?" in form.get_data(True)
    refused = browser.post(
        no,
        data={"reason": "damaged", "photos": (io.BytesIO(b"MZ-not-a-picture"), "x.exe")},
        content_type="multipart/form-data",
    )
    assert (
        refused.status_code == 422
        and "only JPEG, PNG, WebP or HEIC pictures" in refused.get_data(True)
    )
    unchosen = browser.post(no, data={"description": "?"})
    assert unchosen.status_code == 422 and "Please choose what happened." in unchosen.get_data(True)
    too_big = browser.post(
        no,
        data={"reason": "damaged", "photos": (io.BytesIO(PNG + b"\0" * (26 << 20)), "big.png")},
        content_type="multipart/form-data",
    )
    assert too_big.status_code == 422 and "The photos are too large" in too_big.get_data(True)
    sent = browser.post(
        no,
        data={
            "reason": "damaged",
            "description": "The mug came broken.",
            "photos": (io.BytesIO(PNG), "mug.png"),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 200 and "Thank you for telling us" in sent.get_data(True)
    assert browser.post(no, data={"reason": "damaged"}).status_code == 409  # once
    with hub.db.read() as session:
        [case] = session.scalars(select(Case)).all()
        case_id = case.id
        assert (case.order_id, case.reason, case.status) == (order_id, "damaged", "open")
        assert case.photos[0]["content_type"] == "image/png"

    # In the admin: listed as open, its page shows the customer's words and photo.
    listing = browser.get("/cases?status=open").get_data(True)
    assert f'href="/cases/{case_id}"' in listing
    page = browser.get(f"/cases/{case_id}").get_data(True)
    assert "The mug came broken." in page and "mug.png" in page
    photo = browser.get(f"/cases/{case_id}/photos/0")
    assert photo.status_code == 200 and photo.data == PNG

    # In the API: listed with the status filter, patched with an assignee and a note.
    with hub.db.transaction() as session:
        token = create_token(session, "desk", scope="write")[1]
    api = ApiClient(browser.client, token)
    page = api.get("/api/v1/cases?status=open").get_json()
    assert [c["id"] for c in page["data"]] == [case_id] and page["next_cursor"] is None
    assert api.get("/api/v1/cases?status=resolved").get_json()["data"] == []
    patched = api.patch(
        f"/api/v1/cases/{case_id}",
        json={"status": "waiting_on_customer", "note": "Asked for the box's photo."},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["status"] == "waiting_on_customer"
    assert "Asked for the box's photo." in [n["body"] for n in patched.get_json()["notes"]]
    assert api.patch(f"/api/v1/cases/{case_id}", json={"status": "lost"}).status_code == 422

    # Resolved by a replacement mug: a zero-price order that reserves stock like any other.
    with hub.db.read() as session:
        mug_line = next(line.id for line in session.get(Order, order_id).lines if line.sku == "MUG")
        before = available_by_sku(session, ["MUG"])["MUG"]
    done = browser.post(f"/cases/{case_id}/reship", data={f"qty-{mug_line}": "1"})
    assert done.status_code == 302
    run_jobs(hub)
    with hub.db.read() as session:
        case = session.get(Case, case_id)
        replacement = session.get(Order, case.replacement_order_id)
        assert replacement.total == 0 and [(x.sku, x.quantity) for x in replacement.lines] == [
            ("MUG", 1)
        ]
        assert replacement.status == "confirmed"
        assert available_by_sku(session, ["MUG"])["MUG"] == before - 1
    assert browser.post(f"/cases/{case_id}/reship").status_code == 302  # refused: one per case
    with hub.db.read() as session:
        assert session.scalar(select(Order.id).where(Order.external_id.like("case-%"))) is not None
        assert len(session.scalars(select(Order).where(Order.total == 0)).all()) == 1
    detail = api.get(f"/api/v1/cases/{case_id}").get_json()
    assert detail["replacement_order_id"] == replacement.id


def test_no_review_request_after_a_return_or_an_opt_out(shop, smtp, run_jobs, browser):
    hub = shop
    returned = delivered_order(hub, run_jobs, n=4)
    delivered_order(hub, run_jobs, n=5)
    run_checks(hub, run_jobs)
    checks = {to_of(m): m for m in checks_sent(smtp)}
    assert set(checks) == {"cust4@example.com", "cust5@example.com"}

    # A return opened after the check: "yes" is thanked, no review request.
    with hub.db.transaction() as session:
        line = session.get(Order, returned).lines[0]
        create_return(
            session,
            returned,
            ReturnRequest(lines=[ReturnLineRequest(line.id, 1)], reason="too big"),
            actor="test",
        )
    browser.post(link(checks["cust4@example.com"], "Yes, all is well"))
    # The other customer unsubscribes (the mail client's one-click POST, no cookie), then says yes.
    unsubscribe = urlsplit(checks["cust5@example.com"]["List-Unsubscribe"].strip("<>")).path
    assert browser.app.test_client().post(unsubscribe).status_code == 200
    browser.post(link(checks["cust5@example.com"], "Yes, all is well"))
    run_jobs(hub)
    assert review_requests(smtp) == []

    # An opted-out customer's next order is never asked about; a returned order neither.
    later = delivered_order(hub, run_jobs, n=6)
    with hub.db.transaction() as session:
        session.get(Order, later).email = "cust5@example.com"
    run_checks(hub, run_jobs)
    assert len(checks_sent(smtp)) == 2
    with hub.db.read() as session:
        row = session.scalars(
            select(SatisfactionCheck).where(SatisfactionCheck.order_id == later)
        ).one()
        assert (row.outcome, row.skipped_reason) == ("skipped", "the customer opted out")


def test_links_expire_and_the_settings_refuse_unknown_placeholders(shop, browser):
    hub = shop
    page = browser.get("/satisfaction")
    assert page.status_code == 200 and "Days after delivery" in page.get_data(True)
    with hub.db.read() as session:
        channel_id = ensure_manual_channel(hub, session).id
    refused = browser.post(
        f"/satisfaction/{channel_id}",
        data={
            "enabled": "on",
            "check_days": "7",
            "review_url_template": "https://x.example/{nope}",
        },
        follow_redirects=True,
    )
    assert "unknown placeholder {nope}" in refused.get_data(True)
    with hub.db.read() as session:
        assert policies.read(session, channel_id).review_url_template.startswith("{product_url}")
    assert browser.get("/aftercare/not-a-token/yes").status_code == 404


def test_review_links_per_product_or_one_for_the_order():
    order = {
        "number": "#9",
        "customer": {"email": "a@b.example"},
        "lines": [{"sku": "A 1", "name": "Ä"}, {"sku": "A 1", "name": "Ä"}, {"sku": "B"}],
    }
    per_product = policies.Policy(
        1,
        True,
        7,
        "https://shop.example/p/{sku}",
        "https://www.trustpilot.com/evaluate?url={product_url}&ref={order_number}",
    )
    assert [link.url for link in policies.review_links(per_product, order)] == [
        "https://www.trustpilot.com/evaluate?url=https%3A%2F%2Fshop.example%2Fp%2FA%25201&ref=%239",
        "https://www.trustpilot.com/evaluate?url=https%3A%2F%2Fshop.example%2Fp%2FB&ref=%239",
    ]
    one = policies.Policy(1, True, 7, "", "https://g.page/r/shop/review")
    assert [(x.product, x.url) for x in policies.review_links(one, order)] == [
        ("", "https://g.page/r/shop/review")
    ]


def test_a_case_resolved_by_a_return_and_a_refund(shop, smtp, run_jobs, browser):
    hub = shop
    order_id = delivered_order(hub, run_jobs, n=7)
    with hub.db.transaction() as session:
        case_id = cases.open_case(session, order_id, reason="wrong_item", actor="user:desk").id
        tee = next(line.id for line in session.get(Order, order_id).lines if line.sku == "TEE")

    done = browser.post(f"/cases/{case_id}/return", data={f"qty-{tee}": "2"})
    assert done.status_code == 302
    with hub.db.read() as session:
        case = session.get(Case, case_id)
        ret = session.get(Return, case.return_id)
        assert ret.status == "requested" and [(x.order_line_id, x.quantity) for x in ret.lines] == [
            (tee, 2)
        ]
        assert ret.reason.startswith(f"case {case_id}")
    # Paid on the channel, not through a gateway: a refund is refused in words, nothing queued.
    refused = browser.post(
        f"/cases/{case_id}/refund", data={"amount": "5.00"}, follow_redirects=True
    )
    assert "can be refunded" in refused.get_data(True)
    with hub.db.read() as session:
        assert session.scalars(select(Job).where(Job.kind == "payment.refund")).all() == []
    # Resolved: the order's timeline says so, the list no longer shows it as open.
    browser.post(f"/cases/{case_id}", data={"status": "resolved", "note": "Return on its way."})
    with hub.db.read() as session:
        case = session.get(Case, case_id)
        assert case.status == "resolved" and case.resolved_at is not None
        names = [e.name for e in session.get(Order, order_id).events]
        assert "order.case_opened" in names and "order.case_resolved" in names
    assert f'href="/cases/{case_id}"' not in browser.get("/cases?status=open").get_data(True)


def test_a_person_opens_a_case_from_the_order_page(shop, run_jobs, browser):
    hub = shop
    order_id = delivered_order(hub, run_jobs, n=8)
    page = browser.get(f"/orders/{order_id}").get_data(True)
    assert "No case: the customer has not reported a problem." in page
    opened = browser.post(
        f"/orders/{order_id}/cases", data={"reason": "missing", "description": "Phone: no mug."}
    )
    assert opened.status_code == 302 and "/cases/" in opened.headers["Location"]
    page = browser.get(f"/orders/{order_id}").get_data(True)
    assert "Something is missing · Open" in page
    refused = browser.post(
        f"/orders/{order_id}/cases", data={"reason": "bored"}, follow_redirects=True
    )
    assert "unknown reason" in refused.get_data(True)
    with hub.db.read() as session:
        assert [(c.reason, c.opened_by) for c in session.scalars(select(Case))] == [
            ("missing", "user:admin@example.com")
        ]


def test_the_api_sets_a_channels_satisfaction_check(shop, browser):
    hub = shop
    with hub.db.transaction() as session:
        channel_id = ensure_manual_channel(hub, session).id
        admin = ApiClient(browser.client, create_token(session, "ops", scope="admin")[1])
        desk = ApiClient(browser.client, create_token(session, "desk", scope="write")[1])
    url = f"/api/v1/channels/{channel_id}/satisfaction-check"
    assert admin.get(url).get_json()["check_days"] == 7
    body = {"enabled": True, "check_days": 3, "review_url_template": "https://g.page/r/x/review"}
    assert desk.open("PUT", url, json=body).status_code == 403
    bad = admin.open("PUT", url, json={**body, "review_url_template": "https://x.example/{nope}"})
    assert bad.status_code == 422 and "review_url_template" in bad.get_json()["error"]["details"]
    assert admin.get(url).get_json()["check_days"] == 7  # nothing half-written
    saved = admin.open("PUT", url, json=body)
    assert saved.status_code == 200 and saved.get_json()["check_days"] == 3
    assert admin.get("/api/v1/channels/999999/satisfaction-check").status_code == 404


def test_erasing_the_customer_erases_the_cases_words_and_photos(shop, smtp, run_jobs, browser):
    hub = shop
    order_id = delivered_order(hub, run_jobs, n=9)
    run_checks(hub, run_jobs)
    [check] = checks_sent(smtp)
    browser.post(
        link(check, "No, something is wrong"),
        data={
            "reason": "damaged",
            "description": "Call me on +1 555 0100, cust9@example.com",
            "photos": (io.BytesIO(PNG), "me.png"),
        },
        content_type="multipart/form-data",
    )
    folder = hub.settings.data_dir / "case-files"
    [photo] = [p for p in folder.rglob("*") if p.is_file()]
    with hub.db.transaction() as session:
        customer_id = session.get(Order, order_id).customer_id
        exported = privacy.export_customer(session, customer_id, actor="user:dpo")
        # The export (art. 15) hands the case over; the erasure (art. 17) takes it away.
        assert [(c["reason"], c["photos"]) for c in exported["cases"]] == [("damaged", ["me.png"])]
        assert exported["cases"][0]["description"].startswith("Call me on")
        touched = privacy.erase_customer(session, customer_id, actor="user:dpo")
    assert touched["cases"] == 1
    with hub.db.read() as session:
        [case] = session.scalars(select(Case)).all()
        assert (case.description, case.photos) == ("[erased]", [])
        os.utime(photo, (0, 0))  # older than the hour a new upload is kept unclaimed
        assert case_photos.prune(hub.settings.data_dir, session) == 1
    assert not photo.exists()


def test_no_order_is_spent_while_no_channel_sends_the_check(shop, smtp, run_jobs):
    hub = shop
    with hub.db.transaction() as session:
        email = session.scalars(select(Channel).where(Channel.connector == "email")).one()
        email.config = {**email.config, "events": ["order.confirmed"]}
    order_id = delivered_order(hub, run_jobs, n=10)
    run_checks(hub, run_jobs)
    with hub.db.read() as session:
        assert session.scalars(select(SatisfactionCheck)).all() == []
    with hub.db.transaction() as session:
        email = session.scalars(select(Channel).where(Channel.connector == "email")).one()
        email.config = {**email.config, "events": ["order.satisfaction_check"]}
    run_checks(hub, run_jobs)
    [check] = checks_sent(smtp)
    assert to_of(check) == "cust10@example.com"
    with hub.db.read() as session:
        assert session.scalars(select(SatisfactionCheck.order_id)).all() == [order_id]
