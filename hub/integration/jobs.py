"""Jobs as a plugin sees them: periodic jobs it declares, and what its handlers are given.

The queue itself (:mod:`hub.queue`) runs them; a plugin needs only these types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hub.integration.connectors import Connector
    from hub.integration.erp import ErpExchange


@dataclass(frozen=True)
class PeriodicJob:
    """A job the scheduler enqueues every ``every_seconds``."""

    kind: str
    every_seconds: int
    payload: dict[str, Any] = field(default_factory=dict)
    channel_id: int | None = None


class JobContext(Protocol):
    """What a job handler is given: the job's facts, its channel's connector and the hub's side."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    channel_id: int | None

    @property
    def idempotency_key(self) -> str:
        """A key for outbound calls, identical on every retry of this job."""
        ...

    def connector(self) -> Connector:
        """The connector of this job's channel."""
        ...

    def erp(self) -> ErpExchange:
        """The hub's side of the ERP exchange, for this job's channel."""
        ...


#: A job handler: called with the job's context; raising fails the attempt (it is retried).
JobHandler = Callable[[Any], None]
