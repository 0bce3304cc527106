"""How the connector proves who it is to WooCommerce's REST API, as WooCommerce documents it.

WooCommerce takes a REST API key (consumer key ``ck_…`` and consumer secret
``cs_…``) three ways, by the site's scheme:

- **HTTPS**: HTTP Basic, the key as user name and the secret as password
  (:func:`basic`). Some servers drop the ``Authorization`` header before PHP
  sees it; for them WooCommerce reads ``consumer_key`` and ``consumer_secret``
  from the query string instead (:class:`QueryStringAuth`, the channel's
  "credentials in the query string" option). Over HTTPS only: a query string
  travels in the clear over HTTP.
- **HTTP**: WooCommerce accepts neither there (it checks Basic and query-string
  keys only when the request came over TLS) but OAuth 1.0a "one-legged"
  (:class:`OAuth1`): each request carries ``oauth_consumer_key``, a timestamp,
  a nonce and an HMAC signature of the method, URL and parameters, signed with
  ``consumer_secret + "&"``; the secret itself never travels.

The secret is never logged: the shared HTTP client logs paths only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

#: The signature methods WooCommerce accepts, by OAuth name.
SIGNATURE_METHODS: dict[str, Callable[..., object]] = {
    "HMAC-SHA1": hashlib.sha1,
    "HMAC-SHA256": hashlib.sha256,
}


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as OAuth 1.0a wants it: only ``A-Z a-z 0-9 - . _ ~`` stay."""
    return quote(value, safe="-._~")


def base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The OAuth 1.0a signature base string (RFC 5849 §3.4.1).

    ``url`` without its query; ``params`` are the query's parameters and the
    ``oauth_*`` ones (not ``oauth_signature``), each encoded, sorted by name then value.
    """
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    base_uri = urlunsplit((scheme, netloc, parts.path or "/", "", ""))
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join(percent_encode(p) for p in (method.upper(), base_uri, normalized))


def signature(
    method: str,
    url: str,
    params: Iterable[tuple[str, str]],
    consumer_secret: str,
    *,
    token_secret: str = "",
    signature_method: str = "HMAC-SHA256",
) -> str:
    """The base64 HMAC signature of a request, keyed ``consumer_secret&token_secret``."""
    digest = SIGNATURE_METHODS[signature_method]
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}".encode()
    message = base_string(method, url, params).encode()
    return base64.b64encode(hmac.new(key, message, digest).digest()).decode()  # type: ignore[arg-type]


class OAuth1(AuthBase):
    """OAuth 1.0a one-legged request signing, the way WooCommerce checks it over HTTP.

    The ``oauth_*`` parameters go in the query string (WooCommerce's docs ask
    for that, not the ``Authorization`` header). Only the URL's query is
    signed: the hub's request bodies are JSON, which OAuth leaves out.
    """

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        *,
        signature_method: str = "HMAC-SHA256",
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ):
        if signature_method not in SIGNATURE_METHODS:
            raise ValueError(f"unknown OAuth signature method {signature_method!r}")
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.signature_method = signature_method
        self.clock, self.nonce = clock, nonce

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(str(request.url))
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            # A retry of the same prepared request is signed afresh.
            if not k.startswith("oauth_")
        ]
        oauth = [
            ("oauth_consumer_key", self.consumer_key),
            ("oauth_nonce", self.nonce()),
            ("oauth_signature_method", self.signature_method),
            ("oauth_timestamp", str(int(self.clock()))),
        ]
        signed = signature(
            str(request.method),
            str(request.url),
            query + oauth,
            self.consumer_secret,
            signature_method=self.signature_method,
        )
        query += [*oauth, ("oauth_signature", signed)]
        request.url = urlunsplit(
            (parts.scheme, parts.netloc, parts.path, urlencode(query, quote_via=quote), "")
        )
        return request


class QueryStringAuth(AuthBase):
    """``consumer_key`` and ``consumer_secret`` as query parameters (HTTPS servers that drop
    the ``Authorization`` header)."""

    def __init__(self, consumer_key: str, consumer_secret: str):
        self.params = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(str(request.url), self.params)
        return request


def basic(consumer_key: str, consumer_secret: str) -> HTTPBasicAuth:
    return HTTPBasicAuth(consumer_key, consumer_secret)


def for_site(
    store_url: str, consumer_key: str, consumer_secret: str, *, in_query: bool = False
) -> AuthBase:
    """The way WooCommerce takes the key on this site (see the module doc)."""
    if urlsplit(store_url).scheme == "http":
        return OAuth1(consumer_key, consumer_secret)
    if in_query:
        return QueryStringAuth(consumer_key, consumer_secret)
    return basic(consumer_key, consumer_secret)
