"""Test-only keyring backend: secrets in a JSON file named by ``$PORCHLIGHT_TEST_KEYRING``.

It exists so that ``PYTHON_KEYRING_BACKEND=tests.support.keyring_backend.FileKeyring`` reaches
``porchlight serve`` subprocesses, which an in-memory backend set inside the test process cannot.
Plaintext on purpose, and only ever for tests: without the variable the backend is not viable.
While a file ``<that file>.locked`` exists, reads and writes raise ``KeyringLocked`` as the Secret
Service backend does when the collection stays locked (before log-in; :func:`locked`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, KeyringLocked, PasswordDeleteError

logger = logging.getLogger(__name__)

ENV = "PORCHLIGHT_TEST_KEYRING"
Store = dict[str, dict[str, str]]  # service -> username -> password


class FileKeyring(KeyringBackend):
    """Keyring backend for tests: a JSON file, replaced atomically on every change."""

    @properties.classproperty
    def priority(cls) -> float:
        """1 when ``$PORCHLIGHT_TEST_KEYRING`` is set; otherwise not viable (RuntimeError)."""
        if not os.environ.get(ENV):
            raise RuntimeError(f"{ENV} is not set")
        return 1

    @staticmethod
    def path() -> Path:
        """The JSON file, from ``$PORCHLIGHT_TEST_KEYRING``."""
        value = os.environ.get(ENV)
        if not value:
            raise KeyringError(f"{ENV} is not set: the test keyring has no file")
        return Path(value)

    def _check_unlocked(self) -> None:
        if lock_marker().exists():
            raise KeyringLocked("Failed to unlock the collection!")

    def _load(self) -> Store:
        self._check_unlocked()
        try:
            data = json.loads(self.path().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(s): {str(u): str(p) for u, p in users.items()} for s, users in data.items()}

    def _save(self, store: Store) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(store, fh, indent=1, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_password(self, service: str, username: str) -> str | None:
        """The stored password, or None."""
        return self._load().get(service, {}).get(username)

    @contextlib.contextmanager
    def _locked(self):
        """Serialize read-modify-write across processes (tests and their `porchlight` children)."""
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(str(path) + ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def set_password(self, service: str, username: str, password: str) -> None:
        """Store (or replace) a password."""
        with self._locked():
            store = self._load()
            store.setdefault(service, {})[username] = password
            self._save(store)

    def delete_password(self, service: str, username: str) -> None:
        """Remove a password; PasswordDeleteError when there is none."""
        with self._locked():
            store = self._load()
            if username not in store.get(service, {}):
                raise PasswordDeleteError(f"no password for {username!r} in {service!r}")
            del store[service][username]
            if not store[service]:
                del store[service]
            self._save(store)


def lock_marker() -> Path:
    """While this file exists the test keyring is locked."""
    return Path(str(FileKeyring.path()) + ".locked")


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """The test keyring is locked (for every process that uses it) inside the ``with``."""
    marker = lock_marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)
