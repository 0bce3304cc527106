"""What an API token may do: its scope, one of three, each including the one below.

- ``read``: look (every ``GET`` of the API);
- ``write``: also change the business's records: orders and their transitions,
  returns, stock and locations, job retries and webhook replays, and test or
  sync a channel;
- ``admin``: also configure the hub: create, change or delete channels (their
  secrets among them), and tokens and settings.

Which route needs which scope is the web's business (``hub.web.api_access``);
this module only knows the scopes and their order.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """A token's scope; a higher one includes every lower one."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def covers(self, needed: Scope) -> bool:
        """Whether a token of this scope may do what ``needed`` allows."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}

#: The scope of a token made without naming one (``hub token create``, the admin
#: UI's form). What most programs calling the API need (a storefront or a phone
#: desk making orders, a warehouse script setting stock) without the power to
#: re-point a channel or read its set-up; a BI tool asks for ``read``, a
#: provisioning script for ``admin``.
DEFAULT_SCOPE = Scope.WRITE

#: The scopes, lowest first: for choices in forms and on the command line.
SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)
