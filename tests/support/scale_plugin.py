"""A plugin for the scale-out tests: jobs that leave a trace in a file.

Loaded into real ``hub worker`` / ``hub scheduler`` processes with
``HUB_PLUGINS=scale_plugin`` and this folder on ``PYTHONPATH``.
"""

import os
import time

from hub import hookimpl
from hub.integration.jobs import PeriodicJob


def _log(line: str) -> None:
    # O_APPEND writes of one short line are atomic: processes never interleave.
    fd = os.open(os.environ["SCALE_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def record(ctx):
    _log(f"ran {ctx.id}")


def slow(ctx):
    _log(f"start {ctx.id} attempt {ctx.attempts} pid {os.getpid()}")
    time.sleep(float(ctx.payload.get("seconds", 5)))
    _log(f"done {ctx.id}")


@hookimpl
def hub_register_job_handlers():
    return {"scale.record": record, "scale.slow": slow, "scale.tick": record}


@hookimpl
def hub_register_periodic_jobs():
    if os.environ.get("SCALE_TICK"):
        return [PeriodicJob(kind="scale.tick", every_seconds=1)]
    return []
