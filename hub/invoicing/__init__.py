"""Invoices and credit notes: numbered without gaps, frozen at issue, corrected by credit notes.

- :mod:`~hub.invoicing.numbering`: the next number of a series, taken in the issuing transaction;
- :mod:`~hub.invoicing.document`: the frozen content (seller, buyer, lines, tax per rate, totals);
- :mod:`~hub.invoicing.policy`: when each sales channel's orders are invoiced, on what terms;
- :mod:`~hub.invoicing.actions`: issue an invoice, credit it (refunds, returns, cancellations),
  record what was paid;
- :mod:`~hub.invoicing.queries`: invoices as people list them, receivables by age;
- :mod:`~hub.invoicing.serialize`: invoices as the API shows them.

The rules alone (numbers, statuses, tax per rate, terms, ageing) are :mod:`hub.core.invoicing`.
See docs/invoices.md.
"""
