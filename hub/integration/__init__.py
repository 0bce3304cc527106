"""The plugin API: connector contracts, hook specifications, the plugin manager, and the mechanics every connector shares (HTTP with retries and rate limits, signatures, config fields, loopback sandboxes).

Plugins import from here and from :mod:`hub.core`, nothing else.
"""
