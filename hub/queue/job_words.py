"""What each job does, in words, for the admin's Jobs page (the kind stays beside it for filters
and the command line). A plugin's kind without words reads as its name in words."""

from __future__ import annotations

from hub.core.names import name_in_words
from hub.queue.kinds import JobKind

JOB_WORDS: dict[str, str] = {
    JobKind.ORDER_EVENT: "Pass on what happened to an order",
    JobKind.ORDER_EVENT_DELIVER: "Tell a plugin what happened to an order",
    JobKind.ORDER_PROCESS: "Check an order, then confirm or hold it",
    JobKind.ORDER_FULFILL: "Choose where an order ships from",
    JobKind.PAYMENT_CAPTURE: "Take the payment",
    JobKind.PAYMENT_VOID: "Cancel the payment",
    JobKind.PAYMENT_REFUND: "Refund the payment",
    JobKind.SHIPPING_FLUSH: "Send orders to the warehouse",
    JobKind.SHIPPING_POLL: "Ask the warehouse for shipments",
    JobKind.SHIPPING_RESUBMIT: "Send an order to the warehouse again",
    JobKind.SHIPPING_RECORD: "Record a shipment",
    JobKind.CHANNEL_PULL: "Fetch orders from the channel",
    JobKind.CHANNEL_ORDER_REJECTED: "Fetch again an order the channel sent that was refused",
    JobKind.CHANNEL_WEBHOOKS: "Subscribe to the channel's webhooks",
    JobKind.SALES_PUSH_FULFILLMENT: "Tell the sales channel what shipped",
    JobKind.SALES_CANCEL_FULFILLMENT: "Tell the sales channel a shipment was cancelled",
    JobKind.WEBHOOK_PROCESS: "Process a webhook",
    JobKind.NOTIFY: "Send an email or webhook about an order",
    JobKind.STOCK_PUSH: "Send stock levels to the channels",
    JobKind.STOCK_PUSH_CHANNEL: "Send stock levels to a channel",
    JobKind.PURGE: "Remove old finished work",
    JobKind.OPS_ALERT: "Look for dead jobs and failing channels",
    JobKind.OPS_ALERT_EMAIL: "Email the admins an alert",
    JobKind.REPLENISHMENT_FORECAST: "Forecast demand for each SKU",
    JobKind.INVOICE_ISSUE: "Issue an invoice",
    JobKind.INVOICE_SETTLE: "Record a payment on the order's invoices",
    JobKind.INVOICE_CREDIT: "Issue credit notes for money given back",
    JobKind.PURCHASE_ORDER_EMAIL: "Email a purchase order to its supplier",
    JobKind.PURCHASE_ORDER_ERP: "Hand a purchase order to the ERP",
    JobKind.STOCK_RECEIVED: "Give received stock to backordered orders",
    JobKind.LOW_STOCK_CHECK: "Look for SKUs low on stock",
    JobKind.ORDER_LATE_CHECK: "Look for orders that missed their delivery promise",
    JobKind.SATISFACTION_CHECKS: "Ask customers whether their delivered orders arrived well",
    JobKind.TRACKING_REGISTER: "Ask the tracking service to follow a shipment",
    JobKind.TRACKING_POLL: "Ask the tracking service for news it did not send",
    JobKind.ORDER_COMPLETE_DELIVERED: "Complete orders delivered some days ago",
    "erp.import": "Import stock files from the ERP",
    "erp.export": "Export orders to the ERP",
}


def job_words(kind: str) -> str:
    """What a job of ``kind`` does, for people; an unknown kind as its name in words."""
    known = JOB_WORDS.get(kind)
    return known if known is not None else name_in_words(kind)
