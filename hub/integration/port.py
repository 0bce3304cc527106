"""What a connector may change in the hub: the :class:`HubPort` it is handed.

A pull, a webhook or a poll hands its findings to the port, and the hub applies
them, each call in its own transaction, with the channel as the actor. The hub's
implementation is :class:`hub.channels.port.ChannelPort`; a connector sees only
this protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hub.core.order import OrderData, PaymentUpdate
    from hub.integration.connectors import CarrierUpdate, ShipmentNotice


class HubPort(Protocol):
    """The hub, as a connector may change it.

    A connector is handed one in :meth:`~hub.integration.connectors.Connector.handle_webhook`;
    the hub's pull and poll jobs use one to store what ``fetch_orders`` and
    ``fetch_shipments`` yield. Each call is its own transaction, committed
    when it returns: nothing a connector does later undoes it. Every call is
    safe to repeat (a retried job, a replayed webhook): orders are unique per
    channel and ``external_id``, payments and shipments per order and
    ``reference`` or ``external_id``.
    """

    #: The hub's id of the channel.
    channel_id: int
    #: The channel's slug, as in ``/webhooks/<slug>``.
    slug: str
    #: Who the hub records as having made the change (``channel:<slug>``).
    actor: str

    def upsert_orders(
        self,
        orders: Iterable[OrderData],
        *,
        cursor: Mapping[str, Any] | None = None,
        cursor_key: str = "cursor",
        rejected: Mapping[str, str] | None = None,
    ) -> list[int]:
        """Store a batch of orders (and the pull cursor) in one transaction; the ids stored.

        An order the hub does not have is created (``order.created``); one it
        has is updated unless its ``updated_at`` is not newer than the stored
        one (newer wins, so a stale re-delivery changes nothing). An order that
        cannot be stored (:meth:`~hub.core.order.OrderData.check`, an unknown
        payment channel …) is dead-lettered with its reason, as a
        ``channel.order_rejected`` job a person can retry (which calls
        ``fetch_order``), and the others are stored: one bad order never
        stalls the batch. A retryable error (another writer changed an order
        first) rolls the whole batch back and raises, so the job runs again.

        :param cursor: stored in the channel's state under ``cursor_key`` in
            the same transaction, so a pull cut short resumes after the last
            page stored (``fetch_orders`` is given it back).
        :param rejected: channel order id -> reason, for orders the connector
            could not even read; dead-lettered the same way.
        :return: the hub's ids of the orders stored, in the batch's order.
        """
        ...

    def apply_payment_update(self, update: PaymentUpdate) -> int | None:
        """Apply what the payment service says of a payment; the order's id, if known.

        The payment is found by ``update.reference``. Only the facts the
        update gives are applied, and a fact older (``occurred_at``) than the
        newest applied is ignored, so a late or replayed event never moves a
        payment back.

        :return: the id of the order holding the payment; None when no order does.
        """
        ...

    def record_shipment(self, notice: ShipmentNotice) -> int | None:
        """Record a shipment the shipping service reports; the order's id, if the group is known.

        The order group is found by ``notice.key`` (what the hub sent in
        :class:`~hub.integration.connectors.ShippingOrder`), else by
        ``notice.group_ref``. A shipment recorded already (same
        ``external_id``) changes nothing; ``notice.voided`` voids it. A
        shipment that names no lines ships what is still open of its group.

        :return: the id of the group's order; None when no group matches.
        """
        ...

    def unchanged_shipments(self, notices: list[ShipmentNotice]) -> set[int]:
        """The positions in ``notices`` of shipments already recorded as they are.

        One query instead of a transaction per notice: a poll skips these and
        records the others.
        """
        ...

    def record_carrier_update(self, update: CarrierUpdate) -> int | None:
        """Store what a tracking service says of a shipment; the order's id, if the shipment is known.

        Each checkpoint is stored once per shipment and ``key`` (a replay
        doubles nothing). When every shipment of a shipped order is delivered
        the order becomes ``delivered``; the first problem (exception,
        returned to sender) of an order flags it and tells the customer.

        :return: the id of the shipment's order; None when no shipment has that tracking number.
        """
        ...

    @property
    def state(self) -> dict[str, Any]:
        """The channel's saved state (pull cursors, what :meth:`save_state` saved), read now."""
        ...

    def save_state(self, **values: Any) -> None:
        """Merge ``values`` (JSON-ready) into the channel's saved state, in a transaction of its own."""
        ...

    def disable_channel(self, reason: str) -> None:
        """Turn the channel off (e.g. the service revoked its access), saying why.

        Its scheduled jobs stop, its webhooks are refused (``404``) and the
        reason is shown on the channel until a person enables it again.
        """
        ...
