"""Customers: one profile per person or business across every channel (issue 20).

- :mod:`~hub.customers.identity` — who an order's buyer is: email and phone
  normalised, the identity rule (pure; the 0015 migration's backfill uses it too);
- :mod:`~hub.customers.linking` — an order linked to its customer at intake,
  safe when two workers ingest one new customer at once;
- :mod:`~hub.customers.queries` — the one read side: lists, figures, history;
- :mod:`~hub.customers.actions` — tags and note, merge and split (audited, reversible);
- :mod:`~hub.customers.privacy` — erasure (GDPR art. 17) and export (art. 15/20).

See ``docs/customers.md``.
"""
