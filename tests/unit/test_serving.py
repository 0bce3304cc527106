"""hub serve's waitress: a full queue is said once a minute, not once a request."""

from __future__ import annotations

import logging

from hub.web.serving import OncePer, make_server


def test_a_thousand_queue_warnings_in_a_minute_are_said_once(caplog):
    caplog.set_level(logging.WARNING, logger="waitress.queue")
    server = make_server(lambda environ, start_response: [], host="127.0.0.1", port=0, threads=2)
    try:
        logger = server.task_dispatcher.queue_logger
        for depth in range(1000):
            logger.warning("Task queue depth is %d", depth)
    finally:
        server.close()
        server.task_dispatcher.shutdown()
    assert [r.getMessage() for r in caplog.records] == [
        "Task queue depth is 0 (said at most once per 60 s)"
    ]


def test_it_is_said_again_once_the_time_has_passed(caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger="waitress.queue")
    now = [100.0]
    monkeypatch.setattr("hub.web.serving.time.monotonic", lambda: now[0])
    once = OncePer(logging.getLogger("waitress.queue"), 60)
    once.warning("depth %d", 1)
    now[0] += 59
    once.warning("depth %d", 2)
    now[0] += 2
    once.warning("depth %d", 3)
    assert [r.getMessage() for r in caplog.records] == [
        "depth 1 (said at most once per 60 s)",
        "depth 3 (said at most once per 60 s)",
    ]
