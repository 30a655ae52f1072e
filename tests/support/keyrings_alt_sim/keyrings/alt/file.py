"""Test stand-in for ``keyrings.alt.file.PlaintextKeyring``: passwords in a readable JSON file.

The file is ``$PORCHLIGHT_TEST_PLAINTEXT_KEYRING``. A secure application must refuse this backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

ENV = "PORCHLIGHT_TEST_PLAINTEXT_KEYRING"


class PlaintextKeyring(KeyringBackend):
    """Stores passwords in clear text (what keyrings.alt's PlaintextKeyring effectively does)."""

    priority = 0.5

    def _path(self) -> Path:
        return Path(os.environ[ENV])

    def _load(self) -> dict:
        try:
            return json.loads(self._path().read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\0{username}"] = password
        self._path().write_text(json.dumps(data), encoding="utf-8")

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path().write_text(json.dumps(data), encoding="utf-8")
