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
    """A job the scheduler enqueues every ``every_seconds``.

    Each firing carries a dedupe key for its time slot, so several schedulers
    never double it; and none is added while an earlier firing still waits to
    start (a firing that is running does not hold the next one back).
    """

    #: The job kind a handler is registered for (``hub_register_job_handlers``).
    kind: str
    every_seconds: int
    payload: dict[str, Any] = field(default_factory=dict)
    #: The channel the job is for (``ctx.channel_id``, ``ctx.connector()``); None: the hub's.
    channel_id: int | None = None


class JobContext(Protocol):
    """What a job handler is given: the job's facts, its channel's connector and the hub's side.

    A handler returns to succeed. Raising fails the attempt: an error whose
    ``retryable`` is false sends the job to ``dead`` at once (a person may
    retry it), any other is retried with backoff until ``max_attempts``.
    The same job may run again after it ran (a crash before its outcome was
    written): what it sends out carries :attr:`idempotency_key`.
    """

    id: int
    kind: str
    #: What the job was enqueued with (JSON).
    payload: dict[str, Any]
    #: This run counted: 1 the first time.
    attempts: int
    max_attempts: int
    #: The job's channel, if it has one.
    channel_id: int | None
    #: The order the job is about, if it is about one.
    order_id: int | None

    @property
    def idempotency_key(self) -> str:
        """A key for outbound calls, identical on every retry of this job."""
        ...

    def connector(self) -> Connector:
        """The connector of this job's channel: the instance the hub keeps for the channel
        (see :class:`~hub.integration.connectors.Connector` on its life cycle)."""
        ...

    def erp(self) -> ErpExchange:
        """The hub's side of the ERP exchange, for this job's channel."""
        ...

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """The settings registered as ``name`` (``hub_register_settings``) as saved in the admin UI.

        Fields not saved yet hold their schema's ``load_default``; secret fields
        come decrypted. Read when called: a change applies to the next job.

        :raises NotFound: no plugin registers settings named ``name``.
        """
        ...


#: A job handler: called with the job's context; raising fails the attempt (it is retried).
JobHandler = Callable[[Any], None]
