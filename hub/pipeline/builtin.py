"""The hub's own jobs, registered through the same hooks any plugin uses."""

from __future__ import annotations

from hub import hookimpl
from hub.pipeline.handlers import HANDLERS


@hookimpl
def hub_register_job_handlers():
    return dict(HANDLERS)
