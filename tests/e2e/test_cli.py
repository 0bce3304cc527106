"""The hub command line, as a merchant or operator uses it."""

import json

import pytest

from hub.testing import MANUAL_ORDER, hub_cmd

ORDER = MANUAL_ORDER


def test_init_is_idempotent_and_creates_the_manual_channel(tmp_path):
    first = hub_cmd(
        "init",
        "--admin-email",
        "Admin@Example.com",
        "--admin-password",
        "s3cret-pass",
        data_dir=tmp_path,
    )
    assert "admin admin@example.com created" in first.stdout
    second = hub_cmd(
        "init",
        "--admin-email",
        "admin@example.com",
        "--admin-password",
        "n3w-pass!",
        data_dir=tmp_path,
    )
    assert "admin admin@example.com updated" in second.stdout
    header, *channels = hub_cmd("channels", "list", data_dir=tmp_path).stdout.strip().splitlines()
    assert header.startswith("id\tslug\tconnector\tstate\tname")
    assert len(channels) == 1 and "\tmanual\tmanual\tenabled" in channels[0]
    key = tmp_path / "secret.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600


def test_a_short_password_is_a_one_line_error_not_a_traceback(tmp_path):
    proc = hub_cmd(
        "init",
        "--admin-email",
        "a@example.com",
        "--admin-password",
        "short",
        data_dir=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: the password needs at least 8 characters")
    assert "Traceback" not in proc.stderr


def test_plugins_lists_the_manual_connector_and_its_role(cli):
    result = cli("plugins")
    assert result.exit_code == 0
    assert "connector manual: sales" in result.output


def test_an_order_created_from_json_flows_to_confirmed_and_can_be_transitioned(cli):
    created = cli("orders", "create", input=json.dumps(ORDER))
    assert created.exit_code == 0, created.output
    order_id = created.output.split()[1]
    assert cli("worker", "--until-idle").exit_code == 0
    listing = cli("orders", "list").output
    assert f"{order_id}\t" in listing and "confirmed" in listing and "44.98 USD" in listing
    moved = cli("orders", "transition", order_id, "hold", "--reason", "customer called")
    assert moved.output.strip() == f"order {order_id}: confirmed -> on_hold"
    shown = json.loads(cli("orders", "show", order_id).output)
    assert shown["status"] == "on_hold" and shown["total"] == "44.98"
    assert (
        shown["events"][-1]["reason"] == "customer called" and shown["events"][-1]["actor"] == "cli"
    )


def test_an_illegal_transition_exits_1_naming_status_and_event(cli):
    order_id = cli("orders", "create", input=json.dumps(ORDER)).output.split()[1]
    result = cli("orders", "transition", order_id, "deliver")
    assert result.exit_code == 1
    assert "is pending: cannot deliver (allowed: confirm, hold, cancel)" in result.output


def test_an_invalid_order_lists_every_field_error(cli):
    bad = {
        **ORDER,
        "currency": "USD",
        "lines": [{"sku": "X", "quantity": 0, "unit_price": "1.005"}],
    }
    result = cli("orders", "create", input=json.dumps(bad))
    assert result.exit_code == 1
    assert "the order is not valid" in result.output and "quantity" in result.output


def test_token_create_prints_the_token_alone_on_the_last_line(cli, hub):
    result = cli("token", "create", "--name", "storefront")
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("hub_") and len(token) > 30
    from hub.accounts.users import find_token

    with hub.db.read() as session:
        assert find_token(session, token).name == "storefront"
        assert find_token(session, token + "x") is None


def test_jobs_can_be_listed_and_a_dead_one_retried(cli, hub):
    from hub.queue.jobs import dead_letter

    with hub.db.transaction() as session:
        job_id = dead_letter(session, "order.process", {}, error="boom")
    listing = cli("jobs", "list", "--status", "dead")
    assert f"{job_id}\torder.process\tdead" in listing.output and "boom" in listing.output
    assert cli("jobs", "retry", str(job_id)).output.strip() == f"job {job_id} queued"
    again = cli("jobs", "retry", str(job_id))
    assert again.exit_code == 1 and "only failed or dead" in again.output


@pytest.mark.parametrize("args", [["orders", "show", "999"], ["jobs", "retry", "999"]])
def test_unknown_ids_are_one_line_errors(cli, args):
    result = cli(*args)
    assert result.exit_code == 1 and "does not exist" in result.output


def test_db_upgrade_reports_nothing_to_do_on_a_current_database(cli):
    result = cli("db", "upgrade")
    assert result.exit_code == 0 and "applied 0 migration(s)" in result.output
