"""The running hub: one :class:`~hub.runtime.hub.hub.Hub` holds settings, database, plugins, connectors and metrics."""
