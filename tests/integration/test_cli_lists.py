"""The CLI's lists read what the API and the admin UI read: the same filters, the same search."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hub.channels.manage import create_channel
from hub.core.order import Customer
from hub.orders import intake
from hub.queue.jobs import dead_letter, enqueue
from hub.testing import order_data


def _ids(output: str) -> list[int]:
    """The first column of a tab-separated listing, its header line skipped."""
    lines = [line for line in output.splitlines() if line.strip()]
    if lines and lines[0].startswith("id\t"):
        lines = lines[1:]
    return [int(line.split("\t")[0]) for line in lines]


def test_orders_list_searches_like_the_api_and_filters_by_channel_and_status(cli, hub, make_order):
    ann = make_order(
        hub, number="#2001", customer=Customer(email="ann@example.com", name="Ann Lee")
    )
    bob = make_order(
        hub, number="#2002", customer=Customer(email="bob@shop.test", name="Bob Stone")
    )
    with hub.db.transaction() as session:
        shop = create_channel(hub, session, name="Shop", connector="manual", config={})
        shop_order = intake.upsert_order(
            session, shop, order_data(external_id="S-9", number="#S9"), actor="test"
        ).order.id

    assert _ids(cli("orders", "list", "--search", "stone").stdout) == [bob]
    assert _ids(cli("orders", "list", "--q", "#2001").stdout) == [ann]
    assert _ids(cli("orders", "list", "-q", "ANN@EXAMPLE").stdout) == [shop_order, ann]
    assert _ids(cli("orders", "list", "-q", "ann", "--channel", "manual").stdout) == [ann]
    assert _ids(cli("orders", "list", "--channel", "shop").stdout) == [shop_order]
    assert _ids(cli("orders", "list", "--status", "pending", "--limit", "1").stdout) == [shop_order]
    nothing = cli("orders", "list", "--search", "nobody")
    assert nothing.exit_code == 0 and nothing.stdout == "" and "no orders" in nothing.stderr


def test_orders_list_has_a_header_and_the_placed_date(cli, hub, make_order):
    placed = datetime(2025, 1, 31, 9, 5, tzinfo=UTC)
    order_id = make_order(hub, number="#3001", placed_at=placed)
    lines = cli("orders", "list").stdout.splitlines()
    header = lines[0].split("\t")
    assert header[0] == "id" and "placed (UTC)" in header and "total" in header
    row = dict(zip(header, lines[1].split("\t"), strict=True))
    assert row["id"] == str(order_id) and row["number"] == "#3001"
    assert row["placed (UTC)"] == "2025-01-31 09:05" and row["total"] == "44.98 USD"


def test_orders_show_prints_names_as_written(cli, hub, make_order):
    order_id = make_order(hub, customer=Customer(email="j@example.de", name="Jürgen Müller"))
    shown = cli("orders", "show", str(order_id)).stdout
    assert "Jürgen Müller" in shown and "\\u00fc" not in shown
    assert json.loads(shown)["id"] == order_id


def test_orders_list_names_an_unknown_channel_in_one_line(cli):
    result = cli("orders", "list", "--channel", "gone")
    assert result.exit_code == 1
    assert result.output.startswith("error: there is no channel 'gone'")


def test_jobs_list_filters_by_kind_and_status(cli, hub):
    with hub.db.transaction() as session:
        dead = dead_letter(session, "channel.pull", {}, error="boom")
        enqueue(session, "notify", {})
    listing = cli("jobs", "list", "--kind", "channel.pull")
    assert _ids(listing.stdout) == [dead]
    assert "dead=1" in listing.stderr and "queued=1" in listing.stderr
    assert _ids(cli("jobs", "list", "--status", "queued", "--kind", "channel.pull").stdout) == []
