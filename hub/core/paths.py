"""Where Porchlight keeps things: one data dir (config, index, thumbnails, lock) per hub."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import platformdirs

APP = "porchlight"


def default_data_dir() -> Path:
    """The platform's user data dir (``~/.local/share/porchlight`` on Linux), or $PORCHLIGHT_DATA_DIR."""
    env = os.environ.get("PORCHLIGHT_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP, appauthor=False))


@dataclasses.dataclass(frozen=True)
class DataDir:
    """Paths inside one data dir."""

    root: Path

    @property
    def db_file(self) -> Path:
        return self.root / "porchlight.db"

    @property
    def default_db_url(self) -> str:
        return f"sqlite:///{self.db_file}"

    @property
    def default_storage(self) -> Path:
        return self.root / "recordings"

    @property
    def thumbs(self) -> Path:
        return self.root / "thumbs"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    def ensure(self) -> DataDir:
        """Create the data dir (private to the user) if needed."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.root, 0o700)
        except OSError:
            pass
        return self
