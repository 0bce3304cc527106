"""Which scope each REST API route needs: one table, checked before every view.

A token's scope (:class:`hub.accounts.scopes.Scope`) is ``read``, ``write`` or
``admin``, each including the one below. The API's ``before_request``
(``hub.web.api._authenticate``) looks the route and method up in
:data:`ROUTE_SCOPES` and refuses a token whose scope does not cover it with 403
``forbidden``, before the view runs. Views never check scopes themselves.

A route left out of the table needs ``admin``: a forgotten entry refuses, it
never opens. ``tests/integration/test_api_scopes.py`` walks the app's routes
and fails on a route without an entry, an entry without a route, and a scope
looser than the rules: every change needs ``write``; channel set-up, tokens and
settings need ``admin``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from hub.accounts.scopes import Scope

#: The API blueprint's URL prefix; :data:`ROUTE_SCOPES` names routes under it.
API_PREFIX = "/api/v1"

READ, WRITE, ADMIN = Scope.READ, Scope.WRITE, Scope.ADMIN

#: Route under :data:`API_PREFIX` (path parameters by name) → method → the scope it needs.
ROUTE_SCOPES: dict[str, dict[str, Scope]] = {
    # Channels: reading them (secrets masked) and asking one to test its connection or
    # sync now is everyday work; setting one up, with its secrets and where it points, is
    # admin's.
    "/connectors": {"GET": READ},
    "/channels": {"GET": READ, "POST": ADMIN},
    "/channels/<channel_id>": {"GET": READ, "PATCH": ADMIN, "DELETE": ADMIN},
    "/channels/<channel_id>/test": {"POST": WRITE},
    "/channels/<channel_id>/sync": {"POST": WRITE},
    # Orders and returns.
    "/orders": {"GET": READ, "POST": WRITE},
    "/orders/<order_id>": {"GET": READ, "PATCH": WRITE},
    "/orders/<order_id>/transitions": {"POST": WRITE},
    "/orders/<order_id>/returns": {"GET": READ, "POST": WRITE},
    "/returns": {"GET": READ},
    "/returns/<return_id>": {"GET": READ},
    "/returns/<return_id>/approve": {"POST": WRITE},
    "/returns/<return_id>/reject": {"POST": WRITE},
    "/returns/<return_id>/receive": {"POST": WRITE},
    "/returns/<return_id>/refund": {"POST": WRITE},
    # Customers (hub.web.api_customers). Tags, notes, merges and splits are everyday work
    # (a merge is undone by a split). Erasure cannot be undone, and an export hands over all
    # of a person's data in one file: both are admin's, and both are recorded on the
    # customer's trail.
    "/customers": {"GET": READ},
    "/customers/<customer_id>": {"GET": READ, "PATCH": WRITE},
    "/customers/<customer_id>/merge": {"POST": WRITE},
    "/customer-merges/<merge_id>/undo": {"POST": WRITE},
    "/customers/<customer_id>/erase": {"POST": ADMIN},
    "/customers/<customer_id>/export": {"GET": ADMIN},
    # Cases (hub.web.api_cases): working them is everyday work.
    "/cases": {"GET": READ},
    "/cases/<case_id>": {"GET": READ, "PATCH": WRITE},
    # Whether and when a channel's customers are asked: set-up, like the channel.
    "/channels/<channel_id>/satisfaction-check": {"GET": READ, "PUT": ADMIN},
    # Stock and the places it is kept.
    "/locations": {"GET": READ, "POST": WRITE},
    "/locations/<code>": {"GET": READ, "PATCH": WRITE},
    "/stock": {"GET": READ, "POST": WRITE},
    # Durable work and the webhook inbox: retrying or replaying is everyday work.
    "/jobs": {"GET": READ},
    "/jobs/<job_id>": {"GET": READ},
    "/jobs/<job_id>/retry": {"POST": WRITE},
    "/webhook-events": {"GET": READ},
    "/webhook-events/<event_id>": {"GET": READ},
    "/webhook-events/<event_id>/replay": {"POST": WRITE},
    # The back office's ledgers (hub.web.api_backoffice).
    "/erp-files": {"GET": READ},
    "/erp-files/<file_id>": {"GET": READ},
    "/erp-files/<file_id>/rejects": {"GET": READ},
    "/erp-exports": {"GET": READ},
    "/deliveries": {"GET": READ},
    "/deliveries/<attempt_id>": {"GET": READ},
    # Invoices and credit notes (hub.web.api_invoices): issuing one is everyday work;
    # when a channel's orders are invoiced is set-up, like the channel.
    "/orders/<order_id>/invoices": {"GET": READ, "POST": WRITE},
    "/invoices": {"GET": READ},
    "/invoices/<invoice_id>": {"GET": READ},
    "/invoices/<invoice_id>/pdf": {"GET": READ},
    "/receivables": {"GET": READ},
    "/channels/<channel_id>/invoice-policy": {"GET": READ, "PUT": ADMIN},
    "/channels/<channel_id>/routing": {"GET": READ, "PUT": ADMIN},
    # Self-service returns (hub.web.api_return_policy): a channel's setting, as its invoicing.
    "/channels/<channel_id>/return-policy": {"GET": READ, "PUT": ADMIN},
    # Replenishment (hub.web.api_replenishment): demand is read; a policy is everyday work.
    "/skus/<sku>/demand": {"GET": READ},
    "/skus/<sku>/reorder-policy": {"GET": READ, "PUT": WRITE},
    "/skus/<sku>/settings": {"GET": READ, "PUT": WRITE},
    # Substitutes (hub.web.api_substitutes): what a delay notice offers, everyday work.
    "/skus/<sku>/substitutes": {"GET": READ, "PUT": WRITE},
    # Service levels (hub.web.api_routing): a SKU's attributes are everyday work; the
    # rules that choose carrier services are set-up, like a channel.
    "/skus/<sku>/attributes": {"GET": READ, "PUT": WRITE},
    "/sku-attributes/import": {"POST": WRITE},
    "/service-level-rules": {"GET": READ, "POST": ADMIN},
    "/service-level-rules/<rule_id>": {"PUT": ADMIN, "DELETE": ADMIN},
    "/locations/<code>/shipping-days": {"GET": READ, "PUT": ADMIN},
    "/transit-times": {"GET": READ},
    "/transit-times/<zone>": {"PUT": ADMIN, "DELETE": ADMIN},
    "/replenishment": {"GET": READ},
    "/replenishment/purchase-orders": {"POST": WRITE},
    # Purchasing (hub.web.api_purchasing): suppliers and purchase orders are everyday work.
    "/suppliers": {"GET": READ, "POST": WRITE},
    "/suppliers/<supplier_id>": {"GET": READ, "PATCH": WRITE, "DELETE": WRITE},
    "/suppliers/<supplier_id>/skus": {"GET": READ, "PUT": WRITE},
    "/purchase-orders": {"GET": READ, "POST": WRITE},
    "/purchase-orders/<po_id>": {"GET": READ, "PATCH": WRITE},
    "/purchase-orders/<po_id>/send": {"POST": WRITE},
    "/purchase-orders/<po_id>/cancel": {"POST": WRITE},
    "/purchase-orders/<po_id>/receipts": {"POST": WRITE},
    # The API's own documentation.
    "/openapi.json": {"GET": READ},
    "/docs": {"GET": READ},
}

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def route_template(rule: str) -> str:
    """A Werkzeug rule as :data:`ROUTE_SCOPES` names it: ``/orders/<order_id>``."""
    path = _CONVERTER.sub(r"<\1>", rule)
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX + "/") else path


def required_scope(template: str, method: str) -> Scope:
    """The scope a request of ``method`` on the route ``template`` needs.

    ``HEAD`` is a ``GET``; ``OPTIONS`` (which methods a route has) needs ``read``;
    anything the table does not name needs ``admin``.
    """
    if method == "OPTIONS":
        return READ
    methods = ROUTE_SCOPES.get(template, {})
    return methods.get("GET" if method == "HEAD" else method, ADMIN)


def refusal(needed: Scope, held: Scope) -> str:
    """What a token too weak for the request is told."""
    return (
        f"this request needs the {needed} scope; the token has the {held} scope "
        f"(make one with `hub token create --name <who> --scope {needed}`)"
    )


def document_scopes(spec: dict[str, Any], app: Flask) -> dict[str, Any]:
    """Name each operation's scope in the OpenAPI document, and its 403 where it can happen.

    Adds ``x-required-scope`` to every operation, and for ``write`` and
    ``admin`` a 403 answer and a sentence in front of its description.
    """
    info = spec.setdefault("info", {})
    info["description"] = (
        f"{info.get('description', '')} A token's scope is `read` (every GET), `write` (also "
        "changes to orders, returns, stock, jobs; testing and syncing channels) or `admin` "
        "(also setting channels up); each operation names the one it needs "
        "(`x-required-scope`), and a weaker token gets 403 `forbidden`."
    ).strip()
    paths = spec.get("paths", {})
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        template = route_template(rule.rule)
        operations = paths.get(_CONVERTER.sub(r"{\1}", rule.rule))
        for method, op in (operations or {}).items():
            needed = required_scope(template, method.upper())
            op["x-required-scope"] = needed.value
            if needed is READ:
                continue
            note = f"Needs a token with the `{needed}` scope."
            op["description"] = f"{note} {op['description']}" if op.get("description") else note
            unauthorized = op.get("responses", {}).get("401", {})
            op.setdefault("responses", {})["403"] = {
                "description": f"The token lacks the `{needed}` scope.",
                **({"content": unauthorized["content"]} if "content" in unauthorized else {}),
            }
    return spec
