"""The hub's job handlers by kind (:data:`HANDLERS`), registered by :mod:`hub.pipeline.builtin`.

Each handler lives in the module of its capability:

- :mod:`hub.pipeline.follow_up`: ``order.event`` (which jobs follow an order event),
  and the helpers the others share;
- :mod:`hub.pipeline.order_steps`: ``order.process``, ``order.fulfill``;
- :mod:`hub.pipeline.payments`: ``payment.capture``, ``payment.void``, ``payment.refund``;
- :mod:`hub.pipeline.shipping`: ``shipping.flush``, ``shipping.poll``,
  ``shipping.resubmit``, ``shipping.record``;
- :mod:`hub.pipeline.sales`: ``channel.pull``, ``channel.order_rejected``,
  ``sales.push_fulfillment``, ``sales.cancel_fulfillment``;
- :mod:`hub.pipeline.events`: ``webhook.process``, ``notify``, ``order.event.deliver``;
- :mod:`hub.pipeline.retention`: ``hub.purge`` (finished work past its retention);
- :mod:`hub.pipeline.subscriptions`: ``channel.webhooks`` (a channel's webhooks at its provider);
- :mod:`hub.pipeline.alerts`: ``ops.alert``, ``ops.alert.email`` (dead jobs, failing channels);
- :mod:`hub.pipeline.invoices`: ``invoice.issue``, ``invoice.settle``, ``invoice.credit``;
- :mod:`hub.pipeline.purchasing`: ``purchase_order.email`` and ``purchase_order.erp`` (a sent
  PO to its supplier, by email or through the ERP);
- :mod:`hub.pipeline.late`: ``order.late_check`` (delivery promises not kept);
- :mod:`hub.pipeline.replenishment`: ``stock.received`` (backorders first),
  ``replenishment.low_stock`` (low-stock alerts);
- :mod:`hub.pipeline.tracking`: ``tracking.register`` (a shipment to the tracking
  channels), ``tracking.poll`` (news the webhooks did not bring), ``order.complete_delivered`` (delivered orders completed days later).
"""

from __future__ import annotations

from hub.pipeline.aftercare import send_satisfaction_checks
from hub.pipeline.alerts import check_alerts, send_alert_email
from hub.pipeline.events import deliver_order_event, notify, process_webhook
from hub.pipeline.follow_up import announce_order_event
from hub.pipeline.invoices import credit_invoices, issue_invoice, settle_invoices
from hub.pipeline.late import check_late_orders
from hub.pipeline.order_steps import fulfill_order, process_order
from hub.pipeline.payments import capture_payment, refund_payment, void_payment
from hub.pipeline.purchasing import email_purchase_order, export_purchase_order
from hub.pipeline.replenishment import check_low_stock, stock_received
from hub.pipeline.retention import purge_job
from hub.pipeline.sales import (
    cancel_fulfillment,
    pull_orders,
    push_fulfillment,
    refetch_rejected_order,
)
from hub.pipeline.shipping import flush_shipping, poll_shipments, record_shipment, resubmit_group
from hub.pipeline.subscriptions import sync_channel_webhooks
from hub.pipeline.tracking import complete_delivered_orders, poll_trackings, register_shipment
from hub.queue.kinds import JobKind
from hub.replenishment.forecasts import forecast_job

HANDLERS = {
    JobKind.ORDER_EVENT: announce_order_event,
    JobKind.ORDER_EVENT_DELIVER: deliver_order_event,
    JobKind.ORDER_PROCESS: process_order,
    JobKind.ORDER_FULFILL: fulfill_order,
    JobKind.PAYMENT_CAPTURE: capture_payment,
    JobKind.PAYMENT_VOID: void_payment,
    JobKind.PAYMENT_REFUND: refund_payment,
    JobKind.SHIPPING_FLUSH: flush_shipping,
    JobKind.SHIPPING_POLL: poll_shipments,
    JobKind.SHIPPING_RESUBMIT: resubmit_group,
    JobKind.SHIPPING_RECORD: record_shipment,
    JobKind.CHANNEL_PULL: pull_orders,
    JobKind.CHANNEL_ORDER_REJECTED: refetch_rejected_order,
    JobKind.CHANNEL_WEBHOOKS: sync_channel_webhooks,
    JobKind.SALES_PUSH_FULFILLMENT: push_fulfillment,
    JobKind.SALES_CANCEL_FULFILLMENT: cancel_fulfillment,
    JobKind.WEBHOOK_PROCESS: process_webhook,
    JobKind.NOTIFY: notify,
    JobKind.PURGE: purge_job,
    JobKind.OPS_ALERT: check_alerts,
    JobKind.OPS_ALERT_EMAIL: send_alert_email,
    JobKind.REPLENISHMENT_FORECAST: forecast_job,
    JobKind.INVOICE_ISSUE: issue_invoice,
    JobKind.INVOICE_SETTLE: settle_invoices,
    JobKind.INVOICE_CREDIT: credit_invoices,
    JobKind.PURCHASE_ORDER_EMAIL: email_purchase_order,
    JobKind.PURCHASE_ORDER_ERP: export_purchase_order,
    JobKind.STOCK_RECEIVED: stock_received,
    JobKind.LOW_STOCK_CHECK: check_low_stock,
    JobKind.TRACKING_REGISTER: register_shipment,
    JobKind.TRACKING_POLL: poll_trackings,
    JobKind.ORDER_COMPLETE_DELIVERED: complete_delivered_orders,
    JobKind.ORDER_LATE_CHECK: check_late_orders,
    JobKind.SATISFACTION_CHECKS: send_satisfaction_checks,
}
