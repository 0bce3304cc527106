"""``hub customers list`` and ``hub customers show``: customers as the API and the admin UI read them."""

from __future__ import annotations

import json

import click

from hub.cli import output
from hub.core.exceptions import HubError

CUSTOMER_COLUMNS = (
    output.Column("id", lambda row: str(row[0].id), numeric=True),
    output.Column("name", lambda row: row[0].name),
    output.Column("email", lambda row: row[0].email),
    output.Column("phone", lambda row: row[0].phone),
    output.Column("orders", lambda row: str(row[1][0]), numeric=True),
    output.Column("last order (UTC)", lambda row: output.utc_minute(row[1][1])),
    output.Column("tags", lambda row: ", ".join(row[0].tags or [])),
)


@click.group("customers")
def customers() -> None:
    """Customers: one per person across channels (docs/customers.md)."""


@customers.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, as the API shows each item.")
@click.option("--q", help="Within the email, the name or the phone.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.pass_context
def customers_list(ctx: click.Context, as_json: bool, q: str | None, limit: int) -> None:
    """List the newest customers (merged ones left out) with their orders and last order."""
    from hub.cli.main import _ready_hub
    from hub.customers.queries import CustomerFilters, order_counts, search_customers
    from hub.customers.serialize import customer_summary

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        found = search_customers(session, CustomerFilters(q=q), limit=limit).rows
        counts = order_counts(session, (c.id for c in found))
        if as_json:
            output.print_json([customer_summary(c, counts.get(c.id)) for c in found])
        else:
            rows = [(c, counts.get(c.id, (0, None))) for c in found]
            output.print_rows(CUSTOMER_COLUMNS, rows, nothing="no customers")


@customers.command("show")
@click.argument("customer_id", type=int)
@click.pass_context
def customers_show(ctx: click.Context, customer_id: int) -> None:
    """Show one customer with its figures and recent orders, as JSON (the API's answer)."""
    from hub.cli.main import _ready_hub
    from hub.customers import queries
    from hub.customers.serialize import customer_detail, merge_json
    from hub.orders import queries as order_queries
    from hub.orders.serialize import order_summary
    from hub.store.models import Customer

    hub = _ready_hub(ctx)
    with hub.db.read() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise HubError(f"customer {customer_id} does not exist")
        out = customer_detail(customer, queries.figures(session, customer_id))
        recent = order_queries.search_orders(
            session, order_queries.OrderFilters(customer_id=customer_id), limit=10
        )
        out["recent_orders"] = [order_summary(o) for o in recent.rows]
        out["merges"] = [merge_json(m) for m in queries.merges(session, customer_id)]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
