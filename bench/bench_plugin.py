"""Job kinds for the benchmarks, loaded into worker processes with HUB_PLUGINS=bench.bench_plugin."""

from hub import hookimpl


def noop(ctx):
    """A job that does nothing: what is measured is the queue itself."""


@hookimpl
def hub_register_job_handlers():
    return {"bench.noop": noop}
