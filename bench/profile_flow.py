"""Where the whole flow's time goes: (c) run once with every job timed by kind.

    python -m bench --profile-flow [--orders N] [--database-url URL]
    python -m bench.profile_flow [--orders N] [--database-url URL] [--cprofile KIND]

Runs :class:`hub.demo.scenario.Scenario` for ``N`` orders (200 by default) in
this process, as ``bench/flow.py`` does, and wraps the worker's
:func:`hub.queue.jobs.execute` to measure, per job kind: how many jobs ran (and
per order), wall time and CPU time of this thread (``time.thread_time``) per job,
and the SQL statements and commits the job's thread issued while it ran. What
the worker threads did between jobs (claiming, writing outcomes) is the
``(queue)`` row. CPU per thread group (worker, web server, sandboxes, …) is
read from ``/proc/self/task`` once a second, so the jobs' share of the process
can be seen beside what the sandboxes and the webhook server cost.

Nothing in the hub changes for this: the wrapper and the statement counters
are installed on the scenario's own hub before its clock starts.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event

_CLK = os.sysconf("SC_CLK_TCK")


class _Kind(threading.local):
    kind: str | None = None


class JobProfile:
    """Per-kind counters of jobs run in this process while installed."""

    def __init__(self, cprofile: str | None = None) -> None:
        #: A job kind whose jobs also run under cProfile (one profiler per thread).
        self.cprofile = cprofile
        self.profilers: dict[int, Any] = {}
        self.current = _Kind()
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, float]] = defaultdict(
            lambda: {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0, "statements": 0, "commits": 0}
        )

    def _where(self) -> str | None:
        kind = self.current.kind
        if kind is not None:
            return kind
        if threading.current_thread().name.startswith("worker-"):
            return "(queue)"
        return None

    def on_statement(self, *args: Any) -> None:
        where = self._where()
        if where is not None:
            with self.lock:
                self.jobs[where]["statements"] += 1

    def on_commit(self, *args: Any) -> None:
        where = self._where()
        if where is not None:
            with self.lock:
                self.jobs[where]["commits"] += 1

    def install(self, hub: Any) -> None:
        from hub.queue import jobs as queue

        engines = {id(e): e for e in (hub.db.engine, hub.db.read_engine)}.values()
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self.on_statement)
            event.listen(engine, "commit", self.on_commit)
        original = queue.execute
        profile = self

        def execute(hub: Any, ctx: Any, worker_id: str) -> Any:
            profile.current.kind = ctx.kind
            profiler = profile._profiler() if ctx.kind == profile.cprofile else None
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                if profiler is None:
                    return original(hub, ctx, worker_id)
                return profiler.runcall(original, hub, ctx, worker_id)
            finally:
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                profile.current.kind = None
                with profile.lock:
                    row = profile.jobs[ctx.kind]
                    row["jobs"] += 1
                    row["wall_s"] += wall
                    row["cpu_s"] += cpu

        queue.execute = execute  # Worker._loop looks it up at each call
        self._restore = lambda: setattr(queue, "execute", original)

    def uninstall(self) -> None:
        self._restore()

    def _profiler(self) -> Any:
        import cProfile

        # Timed by this thread's CPU clock: waiting for the GIL or a socket is not counted.
        return self.profilers.setdefault(threading.get_ident(), cProfile.Profile(time.thread_time))

    def stats(self, top: int = 40) -> str:
        """The cProfile'd kind's functions by cumulative time, all threads together."""
        import io
        import pstats

        if not self.profilers:
            return ""
        out = io.StringIO()
        stats = pstats.Stats(*self.profilers.values(), stream=out)
        stats.sort_stats("cumulative").print_stats(top)
        return out.getvalue()


def _group(thread_name: str) -> str:
    """A thread's group: its name without the trailing number."""
    name = re.sub(r"[-_ ]?\(?\d+\)?$", "", thread_name.split(" (")[0])
    return {"worker": "worker threads (jobs + queue)", "waitress": "web server"}.get(name, name)


class ThreadCpu:
    """CPU seconds per thread group of this process, sampled once a second."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="profile-sampler", daemon=True)

    def sample(self) -> None:
        names = {t.native_id: t.name for t in threading.enumerate()}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu = (int(fields[11]) + int(fields[12])) / _CLK
            name = names.get(int(tid)) or self.seen.get(int(tid), ("other",))[0]
            self.seen[int(tid)] = (name, cpu)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.sample()

    def start(self) -> None:
        self.sample()
        self.base = dict(self.seen)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self.sample()
        groups: dict[str, float] = defaultdict(float)
        for tid, (name, cpu) in self.seen.items():
            groups[_group(name)] += cpu - self.base.get(tid, (name, 0.0))[1]
        return {k: round(v, 2) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}


def run(
    n_orders: int = 200, database_url: str | None = None, *, cprofile: str | None = None
) -> dict[str, Any]:
    """The flow for ``n_orders`` orders with per-kind job figures; see the module docstring.

    ``cprofile``: a job kind to run under cProfile too; its call tree is the answer's
    ``"cprofile"`` (its jobs' own times are then inflated by the profiler).
    """
    from hub.demo.scenario import Scenario

    profile = JobProfile(cprofile)
    threads = ThreadCpu()
    with tempfile.TemporaryDirectory(prefix="hub-bench-profile-") as tmp:
        with Scenario(
            n_orders,
            data_dir=Path(tmp) / "data",
            database_url=database_url,
            timeout=600 + n_orders * 2.0,
        ) as scenario:
            assert scenario.hub is not None
            profile.install(scenario.hub)
            cpu0 = time.process_time()
            threads.start()
            load0 = os.getloadavg()
            try:
                summary = scenario.run()
            finally:
                profile.uninstall()
            by_thread = threads.stop()
            process_cpu = time.process_time() - cpu0
    kinds = {}
    total_jobs = sum(row["jobs"] for row in profile.jobs.values()) or 1
    for kind, row in sorted(profile.jobs.items(), key=lambda kv: -kv[1]["cpu_s"]):
        # (queue): claiming and writing outcomes between jobs, per job run.
        n = total_jobs if kind == "(queue)" else row["jobs"] or 1
        kinds[kind] = {
            "jobs": int(row["jobs"]),
            "jobs_per_order": round(row["jobs"] / n_orders, 2),
            "wall_ms_per_job": round(1000 * row["wall_s"] / n, 1),
            "cpu_ms_per_job": round(1000 * row["cpu_s"] / n, 1),
            "cpu_ms_per_order": round(1000 * row["cpu_s"] / n_orders, 1),
            "statements_per_job": round(row["statements"] / n, 1),
            "commits_per_job": round(row["commits"] / n, 2),
            "wall_s": round(row["wall_s"], 2),
            "cpu_s": round(row["cpu_s"], 2),
        }
    return {
        "orders": n_orders,
        "database": "postgresql" if database_url else "sqlite",
        "elapsed_s": round(summary.elapsed, 2),
        "orders_per_s": round(summary.orders_per_second, 2),
        "sound": summary.shipped == n_orders and summary.dead_jobs == 0 and not summary.timed_out,
        "jobs": summary.jobs,
        "process_cpu_s": round(process_cpu, 2),
        "cpu_ms_per_order": round(1000 * process_cpu / n_orders, 1),
        "load_average": [round(x, 2) for x in (*load0, *os.getloadavg())],
        "kinds": kinds,
        "threads_cpu_s": by_thread,
        **({"cprofile": profile.stats()} if cprofile else {}),
    }


def table(result: dict[str, Any]) -> str:
    """The profile as Markdown: one row per job kind, then CPU per thread group."""
    lines = [
        f"Whole flow, {result['orders']:,} orders on {result['database']}: "
        f"{result['elapsed_s']:,.1f} s, {result['orders_per_s']:.2f} orders/s, "
        f"{result['jobs']:,} jobs, process CPU {result['process_cpu_s']:,.1f} s "
        f"({result['cpu_ms_per_order']:,.0f} ms per order), load average "
        f"{' '.join(map(str, result['load_average'][:3]))} before, "
        f"{' '.join(map(str, result['load_average'][3:]))} after"
        + ("" if result["sound"] else " — NOT SOUND"),
        "",
        "| job kind | jobs | per order | wall ms/job | CPU ms/job | CPU ms/order | "
        "CPU share | statements/job | commits/job |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    total_cpu = sum(k["cpu_s"] for k in result["kinds"].values()) or 1.0
    for kind, k in result["kinds"].items():
        lines.append(
            f"| {kind} | {k['jobs']:,} | {k['jobs_per_order']:g} | {k['wall_ms_per_job']:,.1f} | "
            f"{k['cpu_ms_per_job']:,.1f} | {k['cpu_ms_per_order']:,.1f} | "
            f"{100 * k['cpu_s'] / total_cpu:.0f} % | {k['statements_per_job']:g} | "
            f"{k['commits_per_job']:g} |"
        )
    lines.append(
        "\n(queue): the worker threads' statements and commits between jobs (claiming, "
        "writing outcomes), per job run."
    )
    lines += ["", "| threads | CPU s |", "|---|---|"]
    lines += [f"| {name} | {cpu:,.1f} |" for name, cpu in result["threads_cpu_s"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.profile_flow", description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL database (emptied!)")
    parser.add_argument("--cprofile", metavar="KIND", help="also cProfile this job kind")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.orders < 1:
        parser.error("--orders must be at least 1")
    out = run(args.orders, args.database_url, cprofile=args.cprofile)
    print(table(out))
    if out.get("cprofile"):
        print("\n" + out["cprofile"])
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0 if out["sound"] else 1


if __name__ == "__main__":
    import sys

    sys.exit(main())
