"""Channels: their configuration, the webhook inbox they post to, and the port through which their connectors change the hub."""
