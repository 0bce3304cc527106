"""What plugins hand the hub is checked where it enters (issue 18, hurt 1).

Each mistake a plugin author makes is refused with one line naming the plugin
(or connector), the hook (or operation) and what it handed over: at start-up
where it can be, else where the value enters, without retrying what retrying
cannot fix.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from marshmallow import Schema, fields

from hub import hookimpl
from hub.core.exceptions import ConfigError
from hub.core.order import Line
from hub.integration.connectors import Capability, OrderPage, SalesConnector, WebhookOutcome
from hub.integration.manager import get_plugin_manager
from hub.orders import records
from hub.testing import Harness, WebhookTestConnector, hub_cmd, order_data


class Provides:
    def __init__(self, *classes):
        self.classes = classes

    @hookimpl
    def hub_register_connectors(self):
        return list(self.classes)


def one_line(message: str) -> str:
    assert "\n" not in message, message
    return message


# --- hub_validate_order: a list of short strings, or that plugin has failed ---------------------


class SaysRisky:
    @hookimpl
    def hub_validate_order(self, order):
        return "risky"


class HoldsOddly:
    @hookimpl
    def hub_validate_order(self, order):
        return ["fine_reason", 42]


class NoPoBoxes:
    @hookimpl
    def hub_validate_order(self, order):
        return ["po_box"] if order["number"] == "#PO" else []


def order_after_checks(hub, make_order, run_jobs, **overrides):
    order_id = make_order(hub, **overrides)
    run_jobs(hub)
    with hub.db.read() as session:
        order = records.get_order(session, order_id)
        return order.status, list(order.hold_reasons or [])


def test_a_rule_returning_a_string_holds_nothing_and_is_that_plugins_failure(
    make_hub, make_order, run_jobs, caplog
):
    """It held the order with reasons ['r', 'i', 's', 'k', 'y']."""
    hub = make_hub(plugins=[SaysRisky()], only=True)
    with caplog.at_level(logging.ERROR):
        assert order_after_checks(hub, make_order, run_jobs) == ("confirmed", [])
    [record] = [r for r in caplog.records if "hub_validate_order" in r.getMessage()]
    message = one_line(record.getMessage())
    assert "plugin test_plugin_output.SaysRisky: hub_validate_order returned 'risky' (a str)" in (
        message
    )
    assert record.exc_info is None  # the line says it all
    errors = hub.metrics.registry.get_sample_value(
        "hub_plugin_errors_total",
        {"plugin": "test_plugin_output.SaysRisky", "hook": "hub_validate_order"},
    )
    assert errors == 1


def test_a_rule_with_one_bad_reason_is_left_out_and_the_others_still_hold(
    make_hub, make_order, run_jobs, caplog
):
    hub = make_hub(plugins=[HoldsOddly(), NoPoBoxes()], only=True)
    with caplog.at_level(logging.ERROR):
        assert order_after_checks(hub, make_order, run_jobs, number="#PO") == (
            "on_hold",
            ["po_box"],
        )
    assert "hub_validate_order returned reasons[1] = 42 (a int)" in caplog.text


# --- connectors: refused at registration ------------------------------------------------------


class NoSchema(SalesConnector):
    name = "no_schema"


class SchemaInstance(SalesConnector):
    name = "schema_instance"
    config_schema = Schema()  # type: ignore[assignment]


def test_a_connector_without_a_config_schema_is_refused_at_start_up(make_hub):
    """It failed only at `channels add`, with an AttributeError."""
    with pytest.raises(ConfigError) as refused:
        make_hub(plugins=[Provides(NoSchema)], only=True)
    message = one_line(refused.value.message)
    assert message.startswith("plugin test_plugin_output.Provides: connector no_schema:")
    assert "config_schema must be a marshmallow Schema class, not none" in message
    with pytest.raises(ConfigError, match="schema_instance: config_schema must be a marshmallow"):
        make_hub(plugins=[Provides(SchemaInstance)], only=True)


class Config(Schema):
    token = fields.String(load_default="")


class Shop(SalesConnector):
    name = "shop"
    config_schema = Config


class OtherShop(SalesConnector):
    name = "shop"
    config_schema = Config


class ShopPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [Shop]


class OtherShopPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [OtherShop]


def test_a_duplicate_connector_name_names_both_plugins(make_hub):
    with pytest.raises(ConfigError) as refused:
        make_hub(plugins=[ShopPlugin(), OtherShopPlugin()], only=True)
    message = one_line(refused.value.message)
    assert "test_plugin_output.ShopPlugin" in message
    assert "test_plugin_output.OtherShopPlugin" in message
    assert "'shop'" in message


class HandlerNotCallable:
    @hookimpl
    def hub_register_job_handlers(self):
        return {"acme.sync": "acme.jobs.sync"}


class Syncs:
    @hookimpl
    def hub_register_job_handlers(self):
        return {"acme.sync": lambda ctx: None}


def test_a_job_handler_that_is_not_a_function_is_refused_at_start_up(make_hub):
    with pytest.raises(ConfigError) as refused:
        make_hub(plugins=[HandlerNotCallable()], only=True)
    assert one_line(refused.value.message) == (
        "plugin test_plugin_output.HandlerNotCallable: hub_register_job_handlers['acme.sync']"
        " is 'acme.jobs.sync' (a str), not a function handler(ctx)"
    )


def test_a_job_kind_two_plugins_register_names_both(make_hub):
    with pytest.raises(ConfigError) as refused:
        make_hub(plugins=[Syncs(), Syncs()], only=True)
    message = one_line(refused.value.message)
    assert message.endswith(" both register job kind 'acme.sync'")
    assert "test_plugin_output.Syncs and " in message or " and test_plugin_output.Syncs " in message
    assert "test_plugin_output.Syncs-2" in message


# --- hooks: misspelt names and arguments, one line each ----------------------------------------


class Misspelt:
    @hookimpl
    def hub_order_evnet(self, event):
        pass


class WrongArgument:
    @hookimpl
    def hub_validate_order(self, ordr):
        return []


def test_a_misspelt_hook_is_one_line_naming_the_plugin_and_the_real_hook():
    with pytest.raises(ConfigError) as refused:
        get_plugin_manager(plugins=[Misspelt()], only=True)
    assert one_line(refused.value.message) == (
        "plugin test_plugin_output.Misspelt implements hub_order_evnet, which is not a hub hook"
        " (did you mean hub_order_event?)"
    )


def test_an_argument_the_hook_does_not_offer_is_one_line():
    with pytest.raises(ConfigError) as refused:
        get_plugin_manager(plugins=[WrongArgument()], only=True)
    assert one_line(refused.value.message) == (
        "plugin test_plugin_output.WrongArgument: hub_validate_order takes ordr,"
        " which the hook does not offer (it offers order, lookup)"
    )


def test_the_hub_command_says_so_in_one_line(tmp_path):
    """It printed 42 lines of pluggy's traceback."""
    (tmp_path / "typo_rules.py").write_text(
        "from hub import hookimpl\n\n@hookimpl\ndef hub_validate_ordr(order):\n    return []\n"
    )
    proc = hub_cmd(
        "plugins",
        data_dir=tmp_path / "data",
        check=False,
        HUB_PLUGINS="typo_rules",
        PYTHONPATH=str(tmp_path),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: plugin typo_rules implements hub_validate_ordr, which is not a hub hook"
        " (did you mean hub_validate_order?)"
    ]


# --- fetch_orders: pages, or the job is dead at once ---------------------------------------------


class Puller(SalesConnector):
    name = "puller"
    config_schema = Config
    capabilities = frozenset({Capability.PULL_ORDERS})
    pages: list = []

    def fetch_orders(self, cursor):
        yield from type(self).pages


@pytest.fixture
def puller(make_hub):
    with Harness(make_hub(plugins=[Provides(Puller)], only=True)) as harness:
        yield harness, harness.add_channel("puller", {})


def test_fetch_orders_yielding_a_list_kills_the_pull_at_once_naming_the_connector(
    puller, monkeypatch
):
    """It failed with an AttributeError retried 10 times."""
    harness, channel = puller
    monkeypatch.setattr(Puller, "pages", [[order_data(external_id="P1")]])
    job = harness.pull(channel)
    assert (job["status"], job["attempts"]) == ("dead", 1)
    assert one_line(job["last_error"]).startswith(
        f"ConfigError: connector puller (channel {channel.slug}): fetch_orders yielded [OrderData("
    )
    assert job["last_error"].endswith(
        "(a list), not an OrderPage (yield OrderPage(orders, cursor={...}))"
    )
    assert harness.orders(channel) == []


@pytest.mark.parametrize(
    ("page", "named"),
    [
        (OrderPage([{"id": 1}], cursor={}), "OrderPage.orders[0] is {'id': 1} (a dict)"),
        (OrderPage([], cursor="page=2"), "cursor is 'page=2' (a str), not a dict"),  # type: ignore[arg-type]
        (OrderPage([], cursor={"since": object}), "cursor cannot be stored as JSON"),
    ],
)
def test_a_page_with_a_wrong_field_names_it_and_stores_nothing(puller, monkeypatch, page, named):
    harness, channel = puller
    monkeypatch.setattr(Puller, "pages", [page])
    job = harness.pull(channel)
    assert job["status"] == "dead" and named in one_line(job["last_error"])
    assert harness.channel_state(channel) == {}


def test_a_float_price_is_a_dead_letter_naming_the_field_and_the_list_still_answers(
    puller, monkeypatch
):
    harness, channel = puller
    float_line = Line(sku="MUG", name="Mug", quantity=1, unit_price=19.99)  # type: ignore[arg-type]
    monkeypatch.setattr(
        Puller,
        "pages",
        [OrderPage([order_data(external_id="F1", lines=[float_line]), order_data()], cursor={})],
    )
    assert harness.pull(channel)["status"] == "succeeded"
    [dead] = harness.jobs("channel.order_rejected", status="dead")
    assert dead["payload"] == {"external_id": "F1"}
    assert "lines.0.unit_price" in dead["last_error"]
    listed = harness.api.get("/api/v1/orders")
    assert listed.status_code == 200
    assert [o["external_id"] for o in listed.get_json()["data"]] == ["1001"]


# --- HubPort.upsert_orders: OrderData, from a webhook too ---------------------------------------


class HandsDicts(WebhookTestConnector):
    name = "hands_dicts"

    def handle_webhook(self, hub, topic, body, headers):
        hub.upsert_orders([json.loads(body)["order"]])
        return WebhookOutcome.processed()


def test_a_webhook_handing_the_port_a_dict_fails_once_naming_the_channel(make_hub):
    with Harness(make_hub(plugins=[Provides(HandsDicts)], only=True)) as harness:
        channel = harness.add_channel("hands_dicts", {"webhook_secret": "s3cret"})
        body = {"id": "evt-1", "topic": "orders/create", "order": {"external_id": "D1"}}
        assert harness.post_webhook(channel, body).status_code == 200
        harness.run_jobs(advance=timedelta(hours=1))
        [event] = harness.webhook_events(channel)
        assert event["status"] == "failed"
        assert one_line(event["error"]).endswith(
            f"channel {channel.slug}: upsert_orders was handed orders[0] is"
            " {'external_id': 'D1'} (a dict), not an OrderData"
        )
        [job] = harness.jobs("webhook.process")
        assert (job["status"], job["attempts"]) == ("dead", 1)
        assert harness.orders(channel) == []
