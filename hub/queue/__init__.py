"""Durable jobs: the table that is both outbox and queue, the worker that runs it, the scheduler that feeds it."""
