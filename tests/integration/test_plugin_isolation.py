"""A plugin's tests load exactly the plugins they name (issue 18, hurt 2).

An installed plugin is made for real here: a distribution's metadata with a
``hub.plugins`` entry point on ``sys.path``, found by ``importlib.metadata`` as
pip would leave it.
"""

from __future__ import annotations

import importlib
import sys

import pytest

from hub import hookimpl
from hub.integration.manager import get_plugin_manager
from hub.orders import records

INSTALLED = """
from hub import hookimpl


@hookimpl
def hub_validate_order(order):
    return ["held_by_an_installed_plugin"]
"""


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """Install ``noisy_rules`` (entry point ``noisy``) in a folder on sys.path; yield its module."""
    (tmp_path / "noisy_rules.py").write_text(INSTALLED)
    dist = tmp_path / "noisy_rules-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: noisy-rules\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[hub.plugins]\nnoisy = noisy_rules\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield importlib.import_module("noisy_rules")
    sys.modules.pop("noisy_rules", None)


class Mine:
    """The plugin under test: it holds nothing."""

    @hookimpl
    def hub_validate_order(self, order):
        return []


def status_after_checks(hub, make_order, run_jobs) -> tuple[str, list[str]]:
    order_id = make_order(hub)
    run_jobs(hub)
    with hub.db.read() as session:
        order = records.get_order(session, order_id)
        return order.status, list(order.hold_reasons or [])


def test_the_installed_plugin_is_loaded_by_default(
    installed_plugin, make_hub, make_order, run_jobs
):
    hub = make_hub()
    assert hub.pm.get_plugin("noisy") is installed_plugin
    assert status_after_checks(hub, make_order, run_jobs) == (
        "on_hold",
        ["held_by_an_installed_plugin"],
    )


def test_handing_an_installed_plugin_again_is_not_an_error(installed_plugin, make_hub):
    """It used to raise pluggy's "Plugin already registered under a different name"."""
    hub = make_hub(plugins=[installed_plugin])
    assert [p for p in hub.pm.get_plugins() if p is installed_plugin] == [installed_plugin]


def test_only_loads_exactly_the_plugins_named(installed_plugin, make_hub, make_order, run_jobs):
    hub = make_hub(plugins=[Mine()], only=True)
    assert hub.pm.get_plugin("noisy") is None
    assert set(hub.connectors) == {"manual"}  # the hub's own manual channel needs it
    assert status_after_checks(hub, make_order, run_jobs) == ("confirmed", [])


def test_only_accepts_an_installed_plugin_by_import_name(installed_plugin, make_hub):
    hub = make_hub(plugins=["noisy_rules"], only=True)
    assert hub.pm.get_plugin("noisy_rules") is installed_plugin
    assert "shopify" not in hub.connectors


def test_only_ignores_hub_plugins_from_the_environment(installed_plugin, monkeypatch, make_hub):
    monkeypatch.setenv("HUB_PLUGINS", "noisy_rules")
    assert get_plugin_manager(load_entry_points=False).get_plugin("noisy_rules") is not None
    assert make_hub(only=True).pm.get_plugin("noisy_rules") is None


class TestAConftestNamesThePlugins:
    """What a plugin's conftest.py does: override ``hub_plugins``; every hub fixture follows."""

    @pytest.fixture
    def hub_plugins(self):
        return [Mine()]

    def test_the_hub_fixture_loads_only_them(self, installed_plugin, hub, make_order, run_jobs):
        assert hub.pm.get_plugin("noisy") is None
        assert {type(p).__name__ for p in hub.pm.get_plugins()} >= {"Mine"}
        assert "stripe" not in hub.connectors
        assert status_after_checks(hub, make_order, run_jobs) == ("confirmed", [])

    def test_the_harness_too(self, installed_plugin, harness):
        assert set(harness.hub.connectors) == {"manual"}
