"""Files the hub keeps are private to the user it runs as: folders 0700, files 0600.

The data folder holds the database, its WAL, the secret key and the files
channels exchange; none is anyone else's business on a shared machine.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Owner only: read, write (and enter, for folders).
FILE_MODE = 0o600
DIR_MODE = 0o700
#: What the ``hub`` command sets as its umask: everything it creates is owner-only.
UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) if missing; a folder made here is 0700."""
    path = Path(path)
    missing = []
    for parent in (path, *path.parents):
        if parent.exists():
            break
        missing.append(parent)
    path.mkdir(parents=True, exist_ok=True)
    for made in missing:
        os.chmod(made, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 if it does not exist (an existing file is left as it is)."""
    path = Path(path)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    os.close(fd)
    return path
