"""The connectors bundled with hub, registered through the ``hub.plugins`` entry points."""
