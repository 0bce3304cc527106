"""The hub's own jobs, registered through the same hooks any plugin uses."""

from __future__ import annotations

from . import hookimpl
from .flow import HANDLERS


@hookimpl
def hub_register_job_handlers():
    return dict(HANDLERS)
