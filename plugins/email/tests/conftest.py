"""A real SMTP server (aiosmtpd) on a free loopback port, started and stopped by the tests."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """The server's handler: keeps every message; ``rcpt_reply`` makes it refuse recipients."""

    def __init__(self):
        self.messages = []
        self.peers: list[tuple[str, int]] = []  # each message's client address: its connection
        self.tls: list[bool] = []  # whether each message came over TLS
        self.rcpt_reply: str | None = None
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        self.peers.append(session.peer)
        self.tls.append(session.ssl is not None)
        return "250 2.0.0 queued"


class SmtpServer:
    def __init__(self, port: int | None = None, **smtp_options):
        self.port = port or free_port()
        self.mailbox = Mailbox()
        self.smtp_options = smtp_options
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, **self.smtp_options
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.mailbox.messages


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    yield server
    server.stop()
