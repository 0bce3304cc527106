"""/api/v1 invoices: issue one now, read them, receivables, a channel's policy; scopes and errors."""

from __future__ import annotations

import pytest

from hub.accounts.users import create_token
from hub.channels.manage import ensure_manual_channel
from hub.testing import ApiClient

SELLER = dict(seller_legal_name="Acme Trading GmbH", seller_address="Hauptstr. 1|10115 Berlin")


@pytest.fixture
def hub(make_hub):
    return make_hub(**SELLER)


@pytest.fixture
def reader(client, hub) -> ApiClient:
    with hub.db.transaction() as session:
        return ApiClient(client, create_token(session, "reader", scope="read")[1])


def test_issuing_an_invoice_answers_201_with_its_document_then_409(api, hub, make_order):
    order_id = make_order(hub)
    response = api.post(f"/api/v1/orders/{order_id}/invoices", json={})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/invoices/{body['id']}")
    year = body["issued_at"][:4]
    assert body["number"] == f"INV-{year}-000001"
    assert (body["kind"], body["status"], body["currency"], body["total"]) == (
        "invoice",
        "open",
        "USD",
        "44.98",
    )
    assert (body["order_id"], body["amount_due"], body["overdue"]) == (order_id, "44.98", False)
    assert body["document"]["seller"]["legal_name"] == "Acme Trading GmbH"

    again = api.post(f"/api/v1/orders/{order_id}/invoices", json={})
    assert again.status_code == 409
    assert again.get_json()["error"]["details"]["number"] == body["number"]
    another = api.post(f"/api/v1/orders/{order_id}/invoices", json={"another": True})
    assert another.status_code == 201 and another.get_json()["number"].endswith("-000002")

    listed = api.get(f"/api/v1/orders/{order_id}/invoices").get_json()["data"]
    assert [i["number"] for i in listed] == [body["number"], another.get_json()["number"]]
    one = api.get(f"/api/v1/invoices/{body['id']}").get_json()
    assert one["document"] == body["document"]


def test_a_reader_may_list_but_not_issue(reader, hub, make_order):
    order_id = make_order(hub)
    refused = reader.post(f"/api/v1/orders/{order_id}/invoices", json={})
    assert refused.status_code == 403
    assert "write scope" in refused.get_json()["error"]["message"]
    assert reader.get("/api/v1/invoices").get_json()["data"] == []
    assert reader.get("/api/v1/receivables").status_code == 200


def test_bad_requests_are_refused_naming_the_field(api, hub, make_order):
    order_id = make_order(hub)
    wrong = api.post(f"/api/v1/orders/{order_id}/invoices", json={"another": "maybe"})
    assert wrong.status_code == 422 and "another" in wrong.get_json()["error"]["details"]
    assert api.get("/api/v1/invoices?status=overdue").status_code == 422
    assert api.get("/api/v1/invoices?issued_from=yesterday").status_code == 422
    assert api.post("/api/v1/orders/999999/invoices", json={}).status_code == 404
    assert api.get("/api/v1/invoices/999999").status_code == 404


def test_lists_filter_by_kind_status_and_date_and_page_by_cursor(api, hub, make_order):
    ids = [make_order(hub) for _ in range(3)]
    for order_id in ids:
        assert api.post(f"/api/v1/orders/{order_id}/invoices", json={}).status_code == 201
    first = api.get("/api/v1/invoices?limit=2&kind=invoice&status=open").get_json()
    assert [i["number"][-6:] for i in first["data"]] == ["000003", "000002"]
    rest = api.get(f"/api/v1/invoices?limit=2&cursor={first['next_cursor']}").get_json()
    assert [i["number"][-6:] for i in rest["data"]] == ["000001"] and rest["next_cursor"] is None
    assert api.get("/api/v1/invoices?kind=credit_note").get_json()["data"] == []
    today = first["data"][0]["issued_at"][:10]
    assert len(api.get(f"/api/v1/invoices?issued_from={today}").get_json()["data"]) == 3
    assert api.get("/api/v1/invoices?issued_to=2000-01-01").get_json()["data"] == []
    owed = api.get("/api/v1/receivables").get_json()["data"]
    assert owed == [
        {
            "currency": "USD",
            "invoices": 3,
            "open": "134.94",
            "overdue": "0.00",
            "overdue_invoices": 0,
            "buckets": {"0-30": "134.94", "31-60": "0.00", "61-90": "0.00", "90+": "0.00"},
        }
    ]


def test_a_channel_policy_is_read_by_anyone_and_set_by_an_admin(api, reader, hub):
    with hub.db.transaction() as session:
        channel_id = ensure_manual_channel(hub, session).id
    url = f"/api/v1/channels/{channel_id}/invoice-policy"
    assert reader.get(url).get_json()["issue_on"] == "never"
    wanted = {"issue_on": "shipment", "payment_terms_days": 14, "terms_by_tag": {"B2B": 30}}
    assert reader.open("PUT", url, json=wanted).status_code == 403
    done = api.open("PUT", url, json=wanted)
    assert done.status_code == 200
    assert done.get_json() == {
        "channel_id": channel_id,
        "issue_on": "shipment",
        "payment_terms_days": 14,
        "terms_by_tag": {"b2b": 30},
    }
    bad = api.open("PUT", url, json={"issue_on": "sometimes", "payment_terms_days": -1})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["details"]) == {"issue_on", "payment_terms_days"}
    assert reader.get(url).get_json()["issue_on"] == "shipment"  # nothing half-written
