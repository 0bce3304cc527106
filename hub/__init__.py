"""hub: a plugin-based, headless commerce integration hub.

Plugins write ``from hub import hookimpl`` and implement hooks from
:mod:`hub.integration.hookspecs`.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("hub")

__all__ = ["hookimpl", "__version__"]
