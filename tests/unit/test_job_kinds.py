"""The hub's job kinds are named once: every kind it runs is a JobKind, and every JobKind runs."""

from __future__ import annotations

from hub.inventory.levels import JOB_HANDLERS as STOCK_HANDLERS
from hub.pipeline.handlers import HANDLERS
from hub.queue.kinds import JobKind


def test_the_registry_and_the_handlers_agree():
    assert set(HANDLERS) | set(STOCK_HANDLERS) == set(JobKind)


def test_a_kind_builds_its_dedupe_keys():
    assert JobKind.ORDER_PROCESS.key(12, 340) == "order.process:12:340"
    assert JobKind.STOCK_PUSH.key() == "stock.push"
    assert JobKind.ORDER_FULFILL == "order.fulfill"  # stored and compared as its value
