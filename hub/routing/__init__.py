"""Routing orders to locations by place, cost and rules.

Where things are (:mod:`hub.routing.geo`, :mod:`hub.routing.geocode`): locations
and shipping addresses get coordinates, so an order can ship from the nearest
place that has its stock, at the lowest quoted cost, under the merchant's rules.
"""
