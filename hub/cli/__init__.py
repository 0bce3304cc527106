"""The ``hub`` command line."""
