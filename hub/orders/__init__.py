"""Orders: intake, the life cycle, payments and shipments recorded against them, and how they are shown.

One job a module:

- :mod:`~hub.orders.records` — load an order, keep its derived statuses, write its audit trail;
- :mod:`~hub.orders.intake` — store what a channel sent (:func:`~hub.orders.intake.upsert_order`);
- :mod:`~hub.orders.bulk_intake` — a page of new orders in one statement per table;
- :mod:`~hub.orders.transitions` — move an order through its life cycle (confirm, hold, …);
- :mod:`~hub.orders.payments` — what the gateway reports, refunds asked, disputes;
- :mod:`~hub.orders.shipments` — fulfilment groups, shipments recorded and voided;
- :mod:`~hub.orders.commands` — a person's life-cycle event by name (API, CLI, admin);
- :mod:`~hub.orders.validation`, :mod:`~hub.orders.schemas`, :mod:`~hub.orders.serialize` —
  the checks before confirming, the input schemas, the output shape.

Each action takes the caller's session and does its whole job in it (state,
audit event, follow-up jobs); the caller commits once.
"""
