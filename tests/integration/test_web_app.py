"""create_app: defaults, then HUB_* environment, then the mapping passed in."""

from __future__ import annotations

from hub.web import create_app


def test_environment_configures_the_app_and_the_mapping_wins(hub, monkeypatch):
    monkeypatch.setenv("HUB_API_MAX_BYTES", "64")
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://from-env.example")

    app = create_app({"HUB": hub, "TESTING": True, "PUBLIC_URL": "https://from-mapping.example"})

    assert app.config["API_MAX_BYTES"] == 64
    assert app.config["PUBLIC_URL"] == "https://from-mapping.example"
    assert app.config["WEBHOOK_MAX_BYTES"] is None  # default: the hub's own setting


def test_each_surface_is_its_own_blueprint(app):
    assert {"ops", "webhooks", "api"} <= set(app.blueprints)
    assert (
        app.url_map.bind("localhost").match("/webhooks/shop", method="POST")[0]
        == "webhooks.receive"
    )
