"""The plugin manager: bundled and third-party plugins, connectors declared right."""

import pytest
from marshmallow import Schema, fields

from hub import hookimpl
from hub.channels.manage import create_channel, update_config
from hub.core.exceptions import ConfigError, ValidationError
from hub.integration.connectors import Capability, NotificationConnector, SalesConnector, can
from hub.integration.manager import collect_connectors, get_plugin_manager


class SecretConfig(Schema):
    url = fields.Url(required=True, metadata={"label": "URL"})
    token = fields.String(required=True, metadata={"label": "Token", "secret": True})


class Dummy(NotificationConnector):
    name = "dummy"
    config_schema = SecretConfig


class Provides:
    def __init__(self, *classes):
        self.classes = classes

    @hookimpl
    def hub_register_connectors(self):
        return list(self.classes)


def test_bundled_plugins_come_from_the_entry_point_group():
    pm = get_plugin_manager()
    assert "manual" in collect_connectors(pm)
    assert pm.get_plugin("manual") is not None


def test_a_misspelt_hook_fails_at_start_up():
    class Typo:
        @hookimpl
        def hub_order_evnet(self, event):
            pass

    pm = get_plugin_manager()
    pm.register(Typo())
    with pytest.raises(Exception, match="hub_order_evnet"):
        pm.check_pending()


def test_two_connectors_with_one_name_are_refused():
    class Other(Dummy):
        pass

    pm = get_plugin_manager()
    pm.register(Provides(Dummy))
    pm.register(Provides(Other))
    with pytest.raises(ConfigError, match="dummy"):
        collect_connectors(pm)


def test_a_connector_with_an_unknown_role_is_refused():
    class Odd(Dummy):
        name = "odd"
        roles = ("teleport",)

    pm = get_plugin_manager()
    pm.register(Provides(Odd))
    with pytest.raises(ConfigError, match="teleport"):
        collect_connectors(pm)


def test_a_connector_must_subclass_the_class_of_each_role_it_claims():
    class Claims(Dummy):
        name = "claims"
        roles = ("notification", "payment")

    pm = get_plugin_manager()
    pm.register(Provides(Claims))
    with pytest.raises(ConfigError, match="PaymentConnector"):
        collect_connectors(pm)


def test_capabilities_are_declared_not_guessed():
    """An operation defined but not declared, or declared but not defined, is refused at start-up."""

    class Undeclared(SalesConnector):
        name = "undeclared"
        config_schema = SecretConfig

        def push_stock(self, levels, *, state, idempotency_key):
            pass

    class Overclaims(SalesConnector):
        name = "overclaims"
        config_schema = SecretConfig
        capabilities = frozenset({Capability.WEBHOOKS})

        def verify_webhook(self, headers, body, query):
            raise NotImplementedError

    class Declared(Undeclared):
        name = "declared"
        capabilities = frozenset({Capability.PUSH_STOCK})

    for cls, message in [(Undeclared, "Capability.PUSH_STOCK"), (Overclaims, "handle_webhook")]:
        pm = get_plugin_manager()
        pm.register(Provides(cls))
        with pytest.raises(ConfigError, match=message):
            collect_connectors(pm)
    pm = get_plugin_manager()
    pm.register(Provides(Declared))
    assert can(collect_connectors(pm)["declared"], Capability.PUSH_STOCK)


def test_hub_plugins_registers_modules_by_import_name(monkeypatch, tmp_path):
    (tmp_path / "acme_plugin.py").write_text(
        "from hub import hookimpl\n"
        "@hookimpl\n"
        "def hub_register_job_handlers():\n"
        "    return {'acme.job': lambda ctx: None}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HUB_PLUGINS", "acme_plugin")
    pm = get_plugin_manager()
    assert pm.get_plugin("acme_plugin") is not None
    monkeypatch.setenv("HUB_PLUGINS", "no_such_module")
    with pytest.raises(ConfigError, match="no_such_module"):
        get_plugin_manager()


def test_channel_config_is_validated_and_secrets_are_encrypted_at_rest(make_hub):
    hub = make_hub(plugins=[Provides(Dummy)])
    with hub.db.transaction() as session:
        with pytest.raises(ValidationError) as info:
            create_channel(hub, session, name="CRM", connector="dummy", config={"url": "not a url"})
        assert set(info.value.details) == {"url", "token"}
        channel = create_channel(
            hub,
            session,
            name="CRM",
            connector="dummy",
            config={"url": "https://crm.example/hook", "token": "tok-123-secret"},
        )
        stored = dict(channel.config)
        assert "tok-123-secret" not in repr(stored) and "$enc" in repr(stored["token"])
        assert hub.decrypt_config("dummy", stored)["token"] == "tok-123-secret"
        # A blank secret on edit keeps the stored one.
        update_config(hub, session, channel, {"url": "https://crm.example/v2", "token": ""})
        assert hub.channel_info(channel).config == {
            "url": "https://crm.example/v2",
            "token": "tok-123-secret",
        }
    raw = (hub.settings.data_dir / "hub.db").read_bytes()
    assert b"tok-123-secret" not in raw
