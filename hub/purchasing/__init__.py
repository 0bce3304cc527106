"""Purchasing (issue 21): suppliers, purchase orders, sending them, and receiving stock.

- :mod:`hub.purchasing.suppliers`: suppliers and their SKUs (cost price, preferred).
- :mod:`hub.purchasing.orders`: purchase orders from draft to sent or cancelled.
- :mod:`hub.purchasing.receiving`: receipts, which become stock movements.
- :mod:`hub.purchasing.queries`: what is on its way (``incoming``), and when.
"""
