"""The CLI's lists for people (a table with headers on a terminal) and for scripts (tabs, --json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hub.accounts.users import create_token
from hub.channels.manage import create_channel
from hub.cli import output
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.queue.jobs import dead_letter
from hub.web import create_app


def api(hub, path: str) -> list[dict]:
    with hub.db.transaction() as db:
        token = create_token(db, "cli-test")[1]
    answer = (
        create_app({"HUB": hub, "TESTING": True})
        .test_client()
        .get(path, headers={"Authorization": f"Bearer {token}"})
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["data"]


def test_list_json_is_the_apis_objects(cli, hub, make_order):
    make_order(hub, number="#4001")
    with hub.db.transaction() as db:
        dead_letter(db, "notify", {}, error="receiver down")
        create_channel(hub, db, name="Corner shop", connector="manual", config={})
        upsert_location(db, "east")
        set_on_hand(db, [LevelChange("MUG", "east", 7)], actor="test", reason="count")

    orders = json.loads(cli("orders", "list", "--json").stdout)
    assert orders == api(hub, "/api/v1/orders")
    assert json.loads(cli("jobs", "list", "--json").stdout) == api(hub, "/api/v1/jobs")
    assert json.loads(cli("stock", "list", "--json").stdout) == api(hub, "/api/v1/stock")
    channels = json.loads(cli("channels", "list", "--json").stdout)
    from_api = api(hub, "/api/v1/channels")
    assert [c["slug"] for c in channels] == [c["slug"] for c in from_api]
    assert set(channels[0]) == set(from_api[0])  # the same fields (the webhook URL's host aside)
    assert json.loads(cli("jobs", "list", "--json", "--kind", "none.such").stdout) == []


def test_jobs_list_piped_has_a_header_and_dates_one_job_a_line(cli, hub):
    with hub.db.transaction() as db:
        job_id = dead_letter(db, "notify", {}, error="Traceback:\n  line 1\nboom")
    lines = cli("jobs", "list").stdout.splitlines()
    header = lines[0].split("\t")
    assert header[:3] == ["id", "kind", "status"] and "updated (UTC)" in header
    assert len(lines) == 2  # a many-line error stays on its job's line
    row = dict(zip(header, lines[1].split("\t"), strict=True))
    assert row["id"] == str(job_id) and row["attempts"] == "0/10"
    assert datetime.strptime(row["updated (UTC)"], "%Y-%m-%d %H:%M").year == datetime.now(UTC).year
    assert "boom" in row["last error"]


@pytest.mark.parametrize(
    "args, headers",
    [
        (("orders", "list"), ("number", "payment", "fulfilment", "total", "placed (UTC)")),
        (("jobs", "list"), ("kind", "attempts", "updated (UTC)", "last error")),
        (("stock", "list"), ("sku", "location", "on hand", "reserved", "available")),
        (("channels", "list"), ("slug", "connector", "state", "last sync (UTC)")),
    ],
)
def test_on_a_terminal_lists_are_tables_with_headers(
    cli, hub, make_order, monkeypatch, args, headers
):
    make_order(hub, number="#4002", placed_at=datetime(2025, 1, 31, 9, 5, tzinfo=UTC))
    with hub.db.transaction() as db:
        dead_letter(db, "notify", {}, error="receiver down")
        upsert_location(db, "east")
        set_on_hand(db, [LevelChange("MUG", "east", 7)], actor="test", reason="count")
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    shown = cli(*args).stdout
    assert "\t" not in shown
    head = shown.splitlines()[0]
    assert all(h in head for h in headers), head
    assert "─" in shown.splitlines()[1]  # a rule under the headers
    if args[0] == "orders":
        assert "2025-01-31 09:05" in shown and "44.98 USD" in shown


def test_a_table_fits_a_narrow_terminal():
    rows = [{"sku": "A-VERY-LONG-SKU-NAME-" * 3, "n": "5"}]
    columns = (output.Column("sku", lambda r: r["sku"]), output.Column("n", lambda r: r["n"]))
    text = output.render_table(columns, rows, width=40)
    assert max(len(line) for line in text.splitlines()) <= 40
