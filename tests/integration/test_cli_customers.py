"""``hub customers list/show``: the customers the API and the admin UI read."""

from __future__ import annotations

import json

from hub.core.order import Customer
from hub.store.models import Order


def test_customers_list_and_show(cli, hub, make_order):
    first = make_order(hub, number="#1", customer=Customer(email="Ann@Example.com", name="Ann Lee"))
    make_order(hub, number="#2", customer=Customer(email="ann@example.com", name="Ann Lee"))
    make_order(hub, number="#3", customer=Customer(email="bo@example.com", name="Bo Berg"))
    listed = cli("customers", "list", "--q", "ann").output.splitlines()
    assert listed[0].split("\t")[:5] == ["id", "name", "email", "phone", "orders"]
    assert [line.split("\t")[1:5] for line in listed[1:]] == [
        ["Ann Lee", "ann@example.com", "", "2"]
    ]
    assert [c["email"] for c in json.loads(cli("customers", "list", "--json").output)] == [
        "bo@example.com",
        "ann@example.com",
    ]
    with hub.db.read() as session:
        customer_id = session.get(Order, first).customer_id
    shown = json.loads(cli("customers", "show", str(customer_id)).output)
    assert shown["figures"]["order_count"] == 2
    assert [o["number"] for o in shown["recent_orders"]] == ["#2", "#1"]
    missing = cli("customers", "show", "999")
    assert missing.exit_code != 0 and "customer 999 does not exist" in missing.output
