"""Email over TLS against a real SMTP server: STARTTLS (587) and TLS from the first byte (465).

The server's certificate is made by a test CA (trustme). The hub trusts it as
it would trust a real provider's: through the system's CA store, which
OpenSSL reads from ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import ssl

import pytest
import trustme
from sqlalchemy import select

from hub.store.models import Job
from plugins.email.tests.conftest import SmtpServer
from plugins.email.tests.test_email import add_channel, notify_jobs


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def server_tls(ca) -> ssl.SSLContext:
    """The SMTP server's TLS context: a certificate for 127.0.0.1 signed by the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def trusted(ca, tmp_path, monkeypatch):
    """Make the test CA one the system trusts (for TLS contexts made from now on)."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture
def start():
    servers: list[SmtpServer] = []

    def factory(**options) -> SmtpServer:
        servers.append(SmtpServer(**options).start())
        return servers[-1]

    yield factory
    for server in servers:
        server.stop()


def login_checker(logins: list):
    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password, session.ssl is not None))
        return AuthResult(success=auth_data.password == b"app-password", handled=False)

    return authenticator


def test_starttls_encrypts_before_the_login_and_the_message(
    hub, make_order, run_jobs, server_tls, trusted, start
):
    logins: list = []
    # The server takes no login and no mail before STARTTLS (aiosmtpd: 530 otherwise).
    server = start(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=login_checker(logins),
        auth_exclude_mechanism=["LOGIN"],
    )
    add_channel(
        hub,
        server.port,
        events="order.confirmed",
        security="starttls",
        username="shop",
        password="app-password",
    )
    make_order(hub)
    make_order(hub)

    run_jobs(hub)

    assert [j.status for j in notify_jobs(hub)] == ["succeeded", "succeeded"]
    assert len(server.messages) == 2
    # One login, over TLS: the second email went over the same encrypted connection.
    assert logins == [(b"shop", b"app-password", True)]
    assert server.mailbox.tls == [True, True]


def test_ssl_speaks_tls_from_the_first_byte(hub, make_order, run_jobs, server_tls, trusted, start):
    server = start(ssl_context=server_tls)
    add_channel(hub, server.port, events="order.confirmed", security="ssl")
    make_order(hub)

    run_jobs(hub)

    assert [j.status for j in notify_jobs(hub)] == ["succeeded"]
    assert len(server.messages) == 1


def test_a_certificate_the_system_does_not_trust_is_a_dead_job_saying_so(
    hub, make_order, run_jobs, server_tls, start
):
    server = start(tls_context=server_tls, require_starttls=True)
    add_channel(
        hub, server.port, events="order.confirmed", security="starttls", password="app-password"
    )
    make_order(hub)

    run_jobs(hub)

    [job] = notify_jobs(hub)
    assert job.status == "dead" and "its TLS certificate cannot be trusted" in job.last_error
    assert server.messages == []


@pytest.mark.parametrize(
    ("security", "offers_starttls", "says"),
    [
        # STARTTLS asked of a server that does not offer it: no silent fall back to plain text.
        ("starttls", False, "STARTTLS extension not supported by server"),
        # TLS from the first byte against a server that starts in plain text (port 587 given "ssl").
        ("ssl", True, "is the security setting right for this port"),
    ],
)
def test_a_security_setting_that_does_not_fit_the_server_is_a_dead_job_naming_it(
    hub, make_order, run_jobs, server_tls, trusted, start, security, offers_starttls, says
):
    server = start(**({"tls_context": server_tls} if offers_starttls else {}))
    add_channel(hub, server.port, events="order.confirmed", security=security)
    make_order(hub)

    run_jobs(hub)

    with hub.db.read() as session:
        job = session.scalars(select(Job).where(Job.kind == "notify")).one()
    assert job.status == "dead" and says in job.last_error
    assert server.messages == []
