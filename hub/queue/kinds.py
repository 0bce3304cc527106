"""The hub's own job kinds, named once; each builds its dedupe keys.

Plugins name their own kinds with plain strings (``"erp.export"``); the hub's
are members of :class:`JobKind`, so a misspelt kind is an attribute error, not
a job no handler runs.
"""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """A job the hub itself runs (handlers in :mod:`hub.pipeline` and :mod:`hub.inventory`)."""

    ORDER_EVENT = "order.event"
    ORDER_EVENT_DELIVER = "order.event.deliver"
    ORDER_PROCESS = "order.process"
    ORDER_FULFILL = "order.fulfill"
    PAYMENT_CAPTURE = "payment.capture"
    PAYMENT_VOID = "payment.void"
    PAYMENT_REFUND = "payment.refund"
    SHIPPING_FLUSH = "shipping.flush"
    SHIPPING_POLL = "shipping.poll"
    SHIPPING_RESUBMIT = "shipping.resubmit"
    SHIPPING_RECORD = "shipping.record"
    CHANNEL_PULL = "channel.pull"
    CHANNEL_ORDER_REJECTED = "channel.order_rejected"
    CHANNEL_WEBHOOKS = "channel.webhooks"
    SALES_PUSH_FULFILLMENT = "sales.push_fulfillment"
    SALES_CANCEL_FULFILLMENT = "sales.cancel_fulfillment"
    WEBHOOK_PROCESS = "webhook.process"
    NOTIFY = "notify"
    STOCK_PUSH = "stock.push"
    STOCK_PUSH_CHANNEL = "stock.push.channel"
    PURGE = "hub.purge"
    OPS_ALERT = "ops.alert"
    OPS_ALERT_EMAIL = "ops.alert.email"
    REPLENISHMENT_FORECAST = "replenishment.forecast"
    INVOICE_ISSUE = "invoice.issue"
    INVOICE_SETTLE = "invoice.settle"
    INVOICE_CREDIT = "invoice.credit"
    #: A sent purchase order emailed to its supplier with its PDF and CSV (hub.pipeline.purchasing).
    PURCHASE_ORDER_EMAIL = "purchase_order.email"
    #: A sent purchase order handed to the ERP channel that takes them (a file in its folder).
    PURCHASE_ORDER_ERP = "purchase_order.erp"
    #: Stock arrived on a purchase order: give it to backorders first (hub.pipeline.backorders).
    STOCK_RECEIVED = "stock.received"
    #: Available + incoming below a reorder point: the merchant hears once per crossing.
    LOW_STOCK_CHECK = "replenishment.low_stock"
    #: Orders whose delivery promise passed are marked late (hub.pipeline.late).
    ORDER_LATE_CHECK = "order.late_check"
    #: Delivered orders due a satisfaction check: one email each, ever (hub.pipeline.aftercare).
    SATISFACTION_CHECKS = "aftercare.satisfaction_checks"
    #: A shipment's tracking number handed to a tracking channel (AfterShip), once per both.
    TRACKING_REGISTER = "tracking.register"
    #: Trackings with no news for hours read again at their tracking channel (missed webhooks).
    TRACKING_POLL = "tracking.poll"
    #: Delivered orders past the days set (``delivery`` settings) become completed.
    ORDER_COMPLETE_DELIVERED = "order.complete_delivered"

    def key(self, *parts: object) -> str:
        """This kind's dedupe key for ``parts``: ``"order.process:12:340"``."""
        return ":".join([self.value, *(str(part) for part in parts)])
