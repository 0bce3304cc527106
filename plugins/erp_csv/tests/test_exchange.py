"""The connector reaches the hub only through ``ctx.erp()``: the exchange the hub provides."""

from __future__ import annotations

from hub.channels.erp_exchange import ChannelErpExchange
from hub.queue.jobs import JobContext


def job_context(erp, channel_id: int | None) -> JobContext:
    return JobContext(
        hub=erp.hub,
        id=1,
        kind="erp.import",
        payload={},
        attempts=1,
        max_attempts=3,
        channel_id=channel_id,
    )


def test_a_job_is_handed_the_hubs_erp_exchange_of_its_channel(erp):
    exchange = job_context(erp, erp.channel_id).erp()

    assert isinstance(exchange, ChannelErpExchange)
    assert (exchange.channel_id, exchange.actor) == (erp.channel_id, f"channel:{exchange.slug}")
    assert exchange.location_codes() == {"WH1", "STORE"}


def test_a_hub_without_the_erp_service_sends_the_job_to_dead_saying_so(erp, monkeypatch):
    monkeypatch.delitem(erp.hub.services, "erp")
    erp.drop("stock.csv", "sku,location,on_hand\nA,WH1,5\n")

    assert erp.run("erp.import") == "dead"
    assert "hub service 'erp'" in erp.last_error
    assert (erp.import_dir / "stock.csv").exists()
