"""`hub plugins`: every installed plugin, where it came from and what it brings, as text and JSON."""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path

from hub import hookimpl
from hub.integration.connectors import Capability, SalesConnector
from hub.integration.jobs import PeriodicJob
from hub.integration.manager import DEFAULT_PLUGINS, get_plugin_manager
from hub.runtime.plugins import list_plugins
from hub.testing import WebhookTestConnector

ROOT = Path(__file__).resolve().parents[2]
#: The bundled plugins, as the hub's own package declares them.
ENTRY_POINTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
    "entry-points"
]["hub.plugins"]


def hooks_of(module_name: str) -> list[str]:
    """The hook implementations a module defines, read from the module itself."""
    module = importlib.import_module(module_name)
    return sorted(
        name
        for name, value in vars(module).items()
        if name.startswith("hub_") and hasattr(value, "hub_impl")
    )


def test_json_lists_every_bundled_plugin_with_its_hooks(cli):
    result = cli("plugins", "--json")
    assert result.exit_code == 0
    listed = {p["name"]: p for p in json.loads(result.output)}
    assert set(ENTRY_POINTS) | set(DEFAULT_PLUGINS) <= set(listed)
    for name, module in ENTRY_POINTS.items():
        plugin = listed[name]
        assert (plugin["version"], plugin["source"], plugin["distribution"]) == (
            "0.1.0",
            "entry point",
            "hub",
        )
        assert plugin["module"] == module
        assert plugin["hooks"] == hooks_of(module), name
    for name in DEFAULT_PLUGINS:
        assert (listed[name]["version"], listed[name]["source"]) == ("bundled", "hub")
        assert listed[name]["hooks"] == hooks_of(name)


def test_json_shows_connectors_with_roles_capabilities_and_schedules(cli):
    listed = {p["name"]: p for p in json.loads(cli("plugins", "--json").output)}
    [shopify] = listed["shopify"]["connectors"]
    assert shopify["roles"] == ["sales"]
    assert {"pull_orders", "webhooks", "push_fulfillment"} <= set(shopify["capabilities"])
    assert shopify["scheduled_jobs"] == {"channel.pull": 300}
    assert "access_token" in shopify["secret_fields"]
    [stripe] = listed["stripe"]["connectors"]
    assert stripe["roles"] == ["payment"]
    assert listed["shopify"]["sandboxes"] == ["shopify"]
    assert {"erp.export", "erp.import"} == set(listed["erp_csv"]["job_kinds"])
    builtin = listed["hub.pipeline.builtin"]
    assert {"channel.pull", "order.process", "webhook.process"} <= set(builtin["job_kinds"])
    periodic = {
        (j["kind"], j["every_seconds"]) for j in listed["hub.pipeline.defaults"]["periodic_jobs"]
    }
    assert ("hub.purge", 3600) in periodic


def test_the_table_names_each_plugin_its_connectors_and_hooks(cli):
    result = cli("plugins")
    assert result.exit_code == 0
    text = result.output
    assert "shopify 0.1.0 (entry point of hub: plugins.shopify)" in text
    assert "  connector shopify: sales — Shopify" in text
    assert "    every channel: channel.pull every 300s" in text
    assert "  hooks: hub_register_connectors, hub_register_sandboxes" in text
    assert "hub.pipeline.defaults bundled" in text
    assert "  periodic: hub.purge every 3600s" in text


class Registers:
    """A plugin registered by code (a test's), with a connector, a job and a periodic job."""

    @hookimpl
    def hub_register_connectors(self):
        return [WebhookTestConnector]

    @hookimpl
    def hub_register_job_handlers(self):
        return {"registers.sweep": lambda ctx: None}

    @hookimpl
    def hub_register_periodic_jobs(self):
        return [PeriodicJob("registers.sweep", 60)]


class Broken:
    @hookimpl
    def hub_register_sandboxes(self):
        raise RuntimeError("sandbox module missing")


class Listed(SalesConnector):
    name = "listed"
    capabilities = frozenset({Capability.PULL_ORDERS})
    config_schema = WebhookTestConnector.config_schema

    def fetch_orders(self, cursor):
        yield from ()


def test_a_plugin_registered_by_code_is_listed_with_what_it_registers():
    pm = get_plugin_manager()
    pm.register(Registers(), name="registers")
    [plugin] = [p for p in list_plugins(pm) if p.name == "registers"]
    assert (plugin.version, plugin.source, plugin.distribution) == (
        "unpackaged",
        "registered",
        None,
    )
    assert [(c.name, c.roles, c.capabilities) for c in plugin.connectors] == [
        ("webhook_test", ["sales"], ["pull_orders", "webhooks"])
    ]
    assert plugin.job_kinds == ["registers.sweep"]
    assert [(j.kind, j.every_seconds) for j in plugin.periodic_jobs] == [("registers.sweep", 60)]
    assert plugin.hooks == [
        "hub_register_connectors",
        "hub_register_job_handlers",
        "hub_register_periodic_jobs",
    ]


def test_a_plugin_whose_hook_raises_is_listed_with_the_error_and_hides_nothing_else():
    pm = get_plugin_manager()
    pm.register(Broken(), name="broken")
    listed = {p.name: p for p in list_plugins(pm)}
    assert listed["broken"].errors == [
        "hub_register_sandboxes raised RuntimeError: sandbox module missing"
    ]
    assert listed["shopify"].sandboxes == ["shopify"] and listed["shopify"].errors == []


def test_a_plugin_named_in_hub_plugins_says_so(monkeypatch, tmp_path):
    (tmp_path / "hub_listed_probe.py").write_text(
        "from hub import hookimpl\n"
        "__version__ = '2.3.4'\n"
        "@hookimpl\n"
        "def hub_register_connectors():\n"
        "    from tests.integration.test_plugin_listing import Listed\n"
        "    return [Listed]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HUB_PLUGINS", "hub_listed_probe")
    [plugin] = [p for p in list_plugins(get_plugin_manager()) if p.name == "hub_listed_probe"]
    assert (plugin.version, plugin.source) == ("2.3.4", "HUB_PLUGINS")
    assert [c.name for c in plugin.connectors] == ["listed"]
