"""A plugin that is not a connector gets settings of its own schema, read at run time."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from hub import hookimpl
from hub.core.exceptions import ConfigError, NotFound, ValidationError
from hub.core.money import Money
from hub.integration.manager import collect_settings_schemas, get_plugin_manager
from hub.queue.jobs import Worker, enqueue
from hub.store.models import Order, PluginSettings


class LimitSettings(Schema):
    """Hold orders above a total, and report them to the risk service."""

    max_total = fields.Integer(
        load_default=100_000,
        validate=validate.Range(min=0),
        metadata={"label": "Hold orders above (minor units)"},
    )
    api_key = fields.String(load_default="", metadata={"label": "Risk API key", "secret": True})


class OrderLimit:
    """A plugin with no connector: one order rule and one job, both reading its settings."""

    seen: list[dict] = []

    @hookimpl
    def hub_register_settings(self):
        return {"order-limit": LimitSettings}

    @hookimpl
    def hub_validate_order(self, order, lookup):
        limit = lookup.plugin_settings("order-limit")["max_total"]
        total = Money.parse(order["total"], order["currency"]).amount
        return ["over_limit"] if total > limit else []

    @hookimpl
    def hub_register_job_handlers(self):
        return {
            "order-limit.report": lambda ctx: OrderLimit.seen.append(
                ctx.plugin_settings("order-limit")
            )
        }


def held(hub, order_id: int) -> list[str]:
    with hub.db.read() as session:
        return list(session.get(Order, order_id).hold_reasons)


def test_the_rule_runs_with_the_schemas_defaults_until_settings_are_saved(
    make_hub, make_order, run_jobs
):
    hub = make_hub(plugins=[OrderLimit()])
    first = make_order(hub)
    run_jobs(hub)
    assert held(hub, first) == []  # 44.98 is under the default 1000.00
    with hub.db.transaction() as session:
        hub.plugin_settings.save(session, "order-limit", {"max_total": 1000}, actor="test")
    second = make_order(hub)
    run_jobs(hub)
    assert held(hub, second) == ["over_limit"]


def test_a_job_reads_the_settings_secrets_decrypted_and_stored_encrypted(make_hub):
    OrderLimit.seen = []
    hub = make_hub(plugins=[OrderLimit()])
    with hub.db.transaction() as session:
        hub.plugin_settings.save(
            session, "order-limit", {"max_total": 5, "api_key": "rk_live_secret"}, actor="test"
        )
        enqueue(session, "order-limit.report", {})
    Worker(hub, worker_id="test").run_until_idle()
    assert OrderLimit.seen == [{"max_total": 5, "api_key": "rk_live_secret"}]
    with hub.db.read() as session:
        row = session.scalars(select(PluginSettings)).one()
        assert row.values["max_total"] == 5 and "rk_live_secret" not in str(row.values)
        assert row.updated_by == "test"


def test_saving_is_checked_by_the_plugins_schema_and_keeps_a_blank_secret(make_hub):
    hub = make_hub(plugins=[OrderLimit()])
    with hub.db.transaction() as session:
        hub.plugin_settings.save(session, "order-limit", {"api_key": "rk_1"}, actor="test")
    with pytest.raises(ValidationError) as refused, hub.db.transaction() as session:
        hub.plugin_settings.save(session, "order-limit", {"max_total": -1}, actor="test")
    assert refused.value.details == {"max_total": ["Must be greater than or equal to 0."]}
    with hub.db.transaction() as session:
        hub.plugin_settings.save(session, "order-limit", {"max_total": 7, "api_key": ""}, actor="t")
    assert hub.read_plugin_settings("order-limit") == {"max_total": 7, "api_key": "rk_1"}
    with pytest.raises(NotFound, match="order-limit"):
        hub.read_plugin_settings("nothing-here")


def test_two_plugins_registering_one_settings_name_are_refused_naming_both():
    class Again:
        @hookimpl
        def hub_register_settings(self):
            return {"order-limit": LimitSettings.from_dict({})}

    pm = get_plugin_manager(load_entry_points=False)
    pm.register(OrderLimit(), name="order-limit-plugin")
    pm.register(Again(), name="copycat")
    with pytest.raises(ConfigError) as refused:
        collect_settings_schemas(pm)
    assert "copycat" in refused.value.message and "order-limit-plugin" in refused.value.message
    assert refused.value.message.endswith("both register settings named 'order-limit'")


def test_settings_that_are_not_a_schema_are_refused_naming_the_plugin_and_the_name():
    class Loose:
        @hookimpl
        def hub_register_settings(self):
            return {"loose": {"max_total": 5}}

    pm = get_plugin_manager(load_entry_points=False)
    pm.register(Loose(), name="loose-plugin")
    with pytest.raises(
        ConfigError, match=r"plugin loose-plugin: hub_register_settings\['loose'\] is"
    ):
        collect_settings_schemas(pm)
