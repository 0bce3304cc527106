"""The connectors bundled with hub, registered through the ``hub.integration.manager`` entry points."""
