"""Rate quotes: what a parcel from a location to an order's address would cost, cached.

A shipping channel whose connector declares :attr:`Capability.RATES
<hub.integration.connectors.Capability.RATES>` prices a parcel
(:meth:`~hub.integration.connectors.ShippingConnector.quote_rates`); the
cheapest service it offers is the quote. Quotes are asked while an order is
being routed, with its stock locked, so each is kept in ``rate_quotes`` per

- shipping channel,
- origin (the location's code),
- destination zone: the country and the first two characters of the postal
  code (``US-02``, ``DE-80``; the country alone without a postal code),
- weight band: the parcel's weight rounded up to the next of
  :data:`WEIGHT_BANDS` (past the last, to the next 10 kg), and the quote is
  asked for the band's upper weight, so a cached price never undercuts a
  heavier parcel of the same band,

for ``HUB_RATE_QUOTE_TTL_SECONDS`` (an hour by default; 0 keeps none). Orders
to the same zone and band reuse it without a request. A quote that fails is
not cached: the next order asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core.exceptions import HubError
from hub.integration.connectors import Capability, Parcel, can
from hub.integration.lookup import Destination, NoQuote, Quote
from hub.store.models import Channel, Location, Order, RateQuote, utcnow

log = logging.getLogger(__name__)

#: Upper bounds of the weight bands, in grams.
WEIGHT_BANDS = (500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 50_000, 70_000)


def weight_band(grams: int) -> int:
    """The band a parcel of ``grams`` falls in: the upper bound of its band, in grams."""
    for bound in WEIGHT_BANDS:
        if grams <= bound:
            return bound
    return -(-grams // 10_000) * 10_000


def zone_of(destination: Destination) -> str:
    """The destination zone quotes are kept by: ``US-02``, ``DE-80``, or ``FR`` without a postal code."""
    country = (destination.country_code or "").upper()
    prefix = "".join(destination.postal_code.split()).upper()[:2]
    return f"{country}-{prefix}" if prefix else country


@dataclass(frozen=True)
class RateBook:
    """Quotes through an order's shipping channel, cached in ``rate_quotes``.

    Made by the hub's service ``rate_quotes`` (:mod:`hub.pipeline.builtin`),
    which hands it how to find an order's shipping channel and its connector.
    """

    #: The connector of a channel (the hub's, kept with its HTTP session).
    connector_for: Callable[[Channel], object]
    #: The shipping channel that ships an order, or None.
    shipping_channel: Callable[[Session, Order], Channel | None]
    ttl_seconds: int = 3600
    #: The shipping channel found per order, for the candidates of one routing.
    _channels: dict[int, Channel | None] = field(default_factory=dict, compare=False, repr=False)
    #: The kept quotes of a (channel, zone), read in one query: ``{(origin, band): row}``.
    _kept: dict[tuple[int, str], dict[tuple[str, int], RateQuote]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def quote(
        self,
        session: Session,
        order: Order,
        location: Location,
        destination: Destination,
        grams: int,
    ) -> Quote:
        """The cheapest service for a parcel of ``grams`` from ``location`` to ``destination``.

        :raises NoQuote: no shipping channel quotes rates for the order, the
            location or the address lacks a postal code or country, or the
            service failed or offered nothing.
        """
        if order.id not in self._channels:
            self._channels[order.id] = self.shipping_channel(session, order)
        channel = self._channels[order.id]
        if channel is None:
            raise NoQuote("the order has no shipping channel to ask for rates")
        try:
            connector = self.connector_for(channel)
        except HubError as exc:  # its plugin is gone, its config unreadable
            raise NoQuote(f"shipping channel {channel.name}: {exc.message}") from exc
        if not can(connector, Capability.RATES):  # type: ignore[arg-type]
            raise NoQuote(f"shipping channel {channel.name} quotes no rates")
        if not location.zip or not location.country_code:
            raise NoQuote(f"location {location.code} has no postal code and country")
        if not destination.country_code:
            raise NoQuote("the shipping address has no country")
        zone, band = zone_of(destination), weight_band(grams)
        now = utcnow()
        kept = self._kept.get((channel.id, zone))
        if kept is None:
            # Every candidate of an order goes to the same zone: one query for all of them.
            rows = session.scalars(
                select(RateQuote).where(RateQuote.channel_id == channel.id, RateQuote.zone == zone)
            )
            kept = self._kept[(channel.id, zone)] = {(r.origin, r.weight_band): r for r in rows}
        row = kept.get((location.code, band))
        if row is not None and row.expires_at > now:
            return Quote(row.carrier, row.service_code, row.service_name, row.cost_cents, True)
        parcel = Parcel(
            from_postal_code=location.zip,
            from_country=location.country_code.upper(),
            to_postal_code=destination.postal_code,
            to_country=destination.country_code.upper(),
            to_state=destination.province_code,
            to_city=destination.city,
            weight_grams=band,
        )
        try:
            options = connector.quote_rates(parcel)  # type: ignore[attr-defined]
        except HubError as exc:
            log.info("no rate quote from %s for %s: %s", channel.slug, location.code, exc.message)
            raise NoQuote(f"{channel.name} gave no quote: {exc.message}") from exc
        if not options:
            raise NoQuote(f"{channel.name} offers no service from {location.code} to {zone}")
        best = min(options, key=lambda o: (o.cost_cents, o.carrier, o.service_code))
        quote = Quote(best.carrier, best.service_code, best.service_name, best.cost_cents)
        if self.ttl_seconds > 0:
            stored = self._keep(session, channel.id, location.code, zone, band, quote)
            if stored is not None:
                kept[(location.code, band)] = stored
        return quote

    def _keep(
        self, session: Session, channel_id: int, origin: str, zone: str, band: int, quote: Quote
    ) -> RateQuote | None:
        """Store (or refresh) the quote; another order storing the same key at once is fine."""
        now = utcnow()
        row = RateQuote(
            channel_id=channel_id,
            origin=origin,
            zone=zone,
            weight_band=band,
            carrier=quote.carrier,
            service_code=quote.service_code,
            service_name=quote.service_name[:200],
            cost_cents=quote.cost_cents,
            quoted_at=now,
            expires_at=now + timedelta(seconds=self.ttl_seconds),
        )
        try:
            with session.begin_nested():
                session.execute(
                    delete(RateQuote).where(
                        RateQuote.channel_id == channel_id,
                        RateQuote.origin == origin,
                        RateQuote.zone == zone,
                        RateQuote.weight_band == band,
                    )
                )
                session.add(row)
        except IntegrityError:
            return None  # another transaction kept the same quote first: theirs serves
        return row
