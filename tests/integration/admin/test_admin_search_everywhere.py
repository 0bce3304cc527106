"""One read side per resource: the API, the admin UI and the CLI find the same orders, and
the same stock levels, for a search."""

from __future__ import annotations

import re

import pytest
from admin_helpers import flashes
from click.testing import CliRunner

from hub.accounts.users import create_token
from hub.channels.manage import create_channel
from hub.cli.main import main
from hub.core.order import Customer, Line, PaymentData
from hub.orders import intake
from hub.store.models import Shipment
from hub.testing import TEST_SECRET_KEY, order_data

#: Each search, and the orders (by their number) a merchant expects it to find.
SEARCHES = {
    "2001": {"#2001"},
    "#2001": {"#2001"},
    "ann": {"#2001"},  # the customer's name, any case
    "LEE@example": {"#2001"},  # part of the email, any case
    "stone": {"#2002"},
    "T2": {"#2002"},  # the channel's order id, exactly
    "eu-77": {"#EU-77"},  # part of the number, any case
    "%": {"#EU-77"},  # a wildcard of SQL is a plain character
    "_": {"#EU-77"},
    "nobody": set(),
    "mug-blue": {"#2002"},  # a line's SKU, any case
    "1z999": {"#2001"},  # part of a shipment's tracking number
    "PI_3ABC": {"#EU-77"},  # a payment's reference, exactly
}


def _orders(hub, make_order) -> dict[int, str]:
    first = make_order(
        hub, number="#2001", customer=Customer(email="Ann.Lee@example.com", name="Ann Lee")
    )
    second = make_order(
        hub,
        number="#2002",
        customer=Customer(email="bob@shop.test", name="Bob Stone"),
        lines=[Line(sku="MUG-BLUE", name="Mug", quantity=2, unit_price=1999)],
    )
    with hub.db.transaction() as db:
        store = create_channel(
            hub, db, name="EU store", connector="vault", config={"account": "a", "api_token": "t"}
        )
        third = intake.upsert_order(
            db,
            store,
            order_data(
                external_id="EU-77_X",
                number="#EU-77",
                customer=Customer(email="cara@example.org", name="Cara 50% off"),
                payments=[PaymentData(reference="pi_3AbC", amount=4498)],
            ),
            actor="test",
        ).order.id
        db.add(Shipment(order_id=first, external_id="S1", tracking_number="1Z999AA10123456784"))
    return {first: "#2001", second: "#2002", third: "#EU-77"}


def _api_finds(app, hub, q: str) -> set[int]:
    with hub.db.transaction() as db:
        token = create_token(db, "search")[1]
    answer = app.test_client().get(
        "/api/v1/orders", query_string={"q": q}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.get_json()
    return {order["id"] for order in answer.get_json()["data"]}


def _admin_finds(browser, q: str) -> set[int]:
    page = browser.get("/orders", query_string={"q": q}).get_data(as_text=True)
    return {int(n) for n in re.findall(r'<td><a href="/orders/(\d+)">', page)}


def _cli_finds(hub, q: str) -> set[int]:
    env = {
        "HUB_DATA_DIR": str(hub.settings.data_dir),
        "HUB_DATABASE_URL": hub.settings.database_url,
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
    }
    result = CliRunner().invoke(main, ["orders", "list", "--search", q], env=env)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return {int(line.split("\t")[0]) for line in lines[1:]}  # after the header line


@pytest.mark.parametrize(
    "admin_hub", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_api_the_admin_ui_and_the_cli_find_the_same_orders(
    browser, admin_app, admin_hub, make_order
):
    numbers = _orders(admin_hub, make_order)
    for q, expected in SEARCHES.items():
        api = _api_finds(admin_app, admin_hub, q)
        assert {numbers[i] for i in api} == expected, q
        assert _admin_finds(browser, q) == api, q
        assert _cli_finds(admin_hub, q) == api, q


def test_filters_combine_the_same_way_on_every_surface(browser, admin_app, admin_hub, make_order):
    numbers = _orders(admin_hub, make_order)
    by_number = {n: i for i, n in numbers.items()}
    page = browser.get("/orders?channel=eu-store&q=example").get_data(as_text=True)
    assert re.findall(r'<td><a href="/orders/(\d+)">', page) == [str(by_number["#EU-77"])]
    paid = browser.get("/orders?financial_status=paid").get_data(as_text=True)
    assert "No orders match these filters." in paid
    gone = browser.get("/orders?channel=closed-store").get_data(as_text=True)
    assert flashes(gone) == ["there is no channel 'closed-store'"] and "No orders match" in gone


#: Each SKU search, and the SKUs a merchant expects it to find (at every location).
SKU_SEARCHES = {
    "tshirt": {"TSHIRT-M", "TSHIRT-L"},  # any case
    "-m": {"TSHIRT-M"},
    "MUG_2": {"MUG_2"},
    "_": {"MUG_2"},  # a wildcard of SQL is a plain character
    "%": set(),
    "nothing": set(),
}


def test_the_api_the_admin_ui_and_the_cli_find_the_same_stock_levels(browser, admin_app, admin_hub):
    from hub.inventory import levels as inventory

    with admin_hub.db.transaction() as db:
        for code in ("east", "west"):
            inventory.upsert_location(db, code)
        token = create_token(db, "stock")[1]
    with admin_hub.db.transaction() as db:
        inventory.set_on_hand(
            db,
            [
                inventory.LevelChange(sku, code, 3)
                for sku in ("TSHIRT-M", "TSHIRT-L", "MUG_2", "MUGX2")
                for code in ("east", "west")
            ],
            actor="test",
            reason="count",
            source="test",
        )
    env = {
        "HUB_DATA_DIR": str(admin_hub.settings.data_dir),
        "HUB_DATABASE_URL": admin_hub.settings.database_url,
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
    }
    for q, expected in SKU_SEARCHES.items():
        answer = admin_app.test_client().get(
            "/api/v1/stock", query_string={"q": q}, headers={"Authorization": f"Bearer {token}"}
        )
        api = {(x["sku"], x["location"]) for x in answer.get_json()["data"]}
        assert api == {(sku, code) for sku in expected for code in ("east", "west")}, q
        page = browser.get("/stock", query_string={"q": q}).get_data(as_text=True)
        levels = page.split("<th>SKU</th>", 1)[-1].split("</table>", 1)[0]
        admin = set(re.findall(r"<tr><td><code>([^<]+)</code></td><td>([^<]+)</td>", levels))
        assert admin == api, q
        result = CliRunner().invoke(main, ["stock", "list", "--search", q], env=env)
        lines = result.stdout.splitlines()[1:]  # after the header line
        cli = {tuple(line.split("\t")[:2]) for line in lines if line.strip()}
        assert cli == api, q
