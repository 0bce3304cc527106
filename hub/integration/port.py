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
    from hub.integration.connectors import ShipmentNotice


class HubPort(Protocol):
    """The hub, as a connector may change it."""

    channel_id: int
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
        """Store a batch of orders (and the pull cursor) in one transaction; the ids stored."""
        ...

    def apply_payment_update(self, update: PaymentUpdate) -> int | None:
        """Apply what the payment service says of a payment; the order's id, if known."""
        ...

    def record_shipment(self, notice: ShipmentNotice) -> int | None:
        """Record a shipment the shipping service reports; the shipment's id, if recorded."""
        ...

    def unchanged_shipments(self, notices: list[ShipmentNotice]) -> set[int]:
        """The positions in ``notices`` of shipments already recorded as they are."""
        ...

    @property
    def state(self) -> dict[str, Any]:
        """The channel's saved state (pull cursors, ...)."""
        ...

    def save_state(self, **values: Any) -> None:
        """Merge ``values`` into the channel's saved state."""
        ...

    def disable_channel(self, reason: str) -> None:
        """Turn the channel off (e.g. the service revoked its access), saying why."""
        ...
