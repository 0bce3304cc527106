"""``hub demo``: the whole flow on loopback sandboxes."""
