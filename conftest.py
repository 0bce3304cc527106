# The hub's own fixtures, also offered to plugin authors (see hub/testing.py).
pytest_plugins = ["hub.testing"]
