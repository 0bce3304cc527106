"""The domain: the canonical order, its life cycle, money and domain events.

Plain Python with no framework imports, so it can be read and tested alone.
"""
