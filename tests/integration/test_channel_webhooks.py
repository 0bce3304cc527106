"""``channel.webhooks``: which channel changes ask for it, and what the job makes of them."""

from __future__ import annotations

from marshmallow import Schema
from sqlalchemy import select

from hub import hookimpl
from hub.channels import manage
from hub.channels.subscriptions import Registration, RegistrationStatus
from hub.integration.connectors import Capability, SalesConnector
from hub.queue.jobs import Worker
from hub.store.models import Channel, Job


class Provider(SalesConnector):
    """Subscribes its channel's webhooks; ``during_sync`` runs while it does (another change)."""

    name = "provider"
    capabilities = frozenset({Capability.REGISTER_WEBHOOKS})
    config_schema = Schema
    subscribed: dict[str, list[str]] = {}
    during_sync = None

    def sync_webhooks(self, callback_url):
        if Provider.during_sync:
            Provider.during_sync()
            Provider.during_sync = None
        Provider.subscribed[callback_url] = ["orders/create"]
        return ["orders/create"]

    def remove_webhooks(self, callback_url):
        return Provider.subscribed.pop(callback_url, [])


class Plain(SalesConnector):
    """A connector whose webhooks a person subscribes by hand."""

    name = "plain"
    config_schema = Schema


class Plugin:
    @hookimpl
    def hub_register_connectors(self):
        return [Provider, Plain]


def webhook_jobs(hub) -> list[Job]:
    with hub.db.read() as session:
        return list(session.scalars(select(Job).where(Job.kind == "channel.webhooks")))


def make(hub, connector: str, **kwargs) -> int:
    with hub.db.transaction() as session:
        name = kwargs.pop("name", connector)
        return manage.create_channel(hub, session, name=name, connector=connector, **kwargs).id


def run(hub) -> None:
    Worker(hub, worker_id="test").run_until_idle()


def test_only_connectors_that_register_webhooks_get_the_job(make_hub):
    Provider.subscribed = {}
    hub = make_hub(plugins=[Plugin()])
    make(hub, "plain")
    make(hub, "provider", enabled=False)  # nothing to register while disabled
    assert webhook_jobs(hub) == []
    make(hub, "provider", slug="live", name="provider live")
    assert len(webhook_jobs(hub)) == 1
    run(hub)
    assert list(Provider.subscribed) == [f"{hub.settings.public_url}/webhooks/live"]


def test_a_channel_disabled_while_its_webhooks_were_registered_has_them_removed(make_hub):
    Provider.subscribed = {}
    hub = make_hub(plugins=[Plugin()])
    channel_id = make(hub, "provider")

    def disable_meanwhile():
        with hub.db.transaction() as session:
            manage.set_enabled(hub, session, session.get(Channel, channel_id), False)

    Provider.during_sync = disable_meanwhile
    run(hub)
    assert Provider.subscribed == {}  # the job saw its work was out of date and ran again
    with hub.db.read() as session:
        kept = Registration.of(session.get(Channel, channel_id))
    assert kept is not None and kept.status == RegistrationStatus.REMOVED
    assert [j.status for j in webhook_jobs(hub)] == ["succeeded", "succeeded"]


def test_an_unchanged_config_saved_again_asks_for_nothing(make_hub):
    hub = make_hub(plugins=[Plugin()])
    channel_id = make(hub, "provider")
    run(hub)
    with hub.db.transaction() as session:
        manage.update_config(hub, session, session.get(Channel, channel_id), {}, replace=True)
    assert len(webhook_jobs(hub)) == 1
