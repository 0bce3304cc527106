"""hub locations / stock / returns from the command line."""

from __future__ import annotations

from click.testing import CliRunner
from inventory_helpers import levels, order_state

from hub.cli.main import main
from hub.core.order import ShipmentData
from hub.orders import records, shipments
from hub.testing import TEST_SECRET_KEY


def test_locations_and_stock_from_the_command_line(hub, cli):
    assert "no locations" in cli("locations", "list").output
    assert (
        cli("locations", "add", "east", "--priority", "5", "--name", "East DC").output
        == "location east saved (priority 5, active)\n"
    )
    cli("locations", "add", "west")
    assert cli("locations", "list").output == (
        "east\t5\tactive\tEast DC\t-\tnot placed\nwest\t0\tactive\twest\t-\tnot placed\n"
    )
    assert (
        cli("stock", "set", "A", "east", "7", "--reason", "count").output
        == "A at east: on hand 7, reserved 0, available 7\n"
    )
    assert (
        cli("stock", "adjust", "A", "east", "-2").output
        == "A at east: on hand 5, reserved 0, available 5\n"
    )
    assert (
        cli("stock", "list").output
        == "sku\tlocation\ton hand\treserved\tavailable\nA\teast\t5\t0\t5\n"
    )
    trail = cli("stock", "movements", "--sku", "A").output.splitlines()
    assert [line.split("\t")[2:4] for line in trail] == [
        ["on_hand -2", "reserved +0"],
        ["on_hand +7", "reserved +0"],
    ]
    assert all("\tcli" in line for line in trail)


def test_bad_stock_input_is_one_clear_line(hub):
    runner = CliRunner()
    env = {
        "HUB_DATA_DIR": str(hub.settings.data_dir),
        "HUB_DATABASE_URL": hub.settings.database_url,
        "HUB_SECRET_KEY": TEST_SECRET_KEY,
    }
    result = runner.invoke(main, ["stock", "set", "A", "nowhere", "3"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith("error: location 'nowhere' does not exist")


def test_a_return_from_the_command_line(hub, cli, new_order, run_jobs):
    cli("locations", "add", "wh")
    cli("stock", "set", "TSHIRT-M", "wh", "5")
    oid = new_order(hub)
    run_jobs(hub)
    with hub.db.transaction() as session:
        shipments.ship(session, oid, ShipmentData(external_id="s1"), actor="carrier")
        line_id = records.get_order(session, oid).lines[0].id
    out = cli(
        "returns",
        "create",
        str(oid),
        "--line",
        f"{line_id}=2",
        "--reason",
        "too big",
        "--refund-shipping",
    ).output
    assert out == f"return 1 requested for order {oid}: refund 44.98 USD\n"
    assert cli("returns", "approve", "1").output == "return 1 approved\n"
    assert (
        cli("returns", "receive", "1", "--location", "wh").output
        == "return 1 received: TSHIRT-M×2 restocked at wh\n"
    )
    assert (
        cli("returns", "refund", "1", "--amount", "0").output
        == "return 1 refunded: 0.00 USD (order now returned)\n"
    )
    assert cli("returns", "list").output.startswith(f"1\torder {oid}\trefunded\t44.98 USD\ttoo big")
    assert order_state(hub, oid).status == "returned"
    assert levels(hub)[("TSHIRT-M", "wh")] == (5, 0)
