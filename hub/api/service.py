"""The hub as a user service: a systemd user unit that runs ``porchlight serve`` on a data dir.

A service records from log-in (or from boot, with ``loginctl enable-linger``), is restarted by the
service manager when it fails, and needs no window. While one is installed for a data dir it owns
that data dir's hub: clients (the app, :func:`hub.api.launch.attach`) start it through the service
manager, never a hub of their own beside it.

Only systemd (Linux) is implemented. Everything here goes through the ``systemctl --user`` command
and the unit file under ``$XDG_CONFIG_HOME/systemd/user``: nothing of the system's own services is
touched. Loads the standard library (and platformdirs) only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import platformdirs

from hub.api.errors import UnavailableError

#: The unit of the default data dir; another data dir gets ``porchlight-<hash of its path>.service``.
DEFAULT_UNIT = "porchlight.service"
#: ``serve`` exits with this status when another hub holds the data dir; the unit does not restart
#: it then (it would only be refused again, every few seconds).
EXIT_HELD = 75
#: Seconds systemd waits before restarting a hub that failed.
RESTART_S = 5
#: How long a ``systemctl`` call may take (it waits for a stop: the hub finalizes its segments).
SYSTEMCTL_TIMEOUT_S = 90.0
#: Where systemd-logind marks the accounts whose services run without a log-in.
LINGER_DIR = Path("/var/lib/systemd/linger")
#: Environment variables a service hub takes over from the account that installs it.
CARRIED_ENV = ("PYTHON_KEYRING_BACKEND",)


#: Said where no user service can be installed or started.
NO_SYSTEMD = (
    "systemd is not available here, so Porchlight cannot run as a user service: "
    "run `porchlight serve` from your session's autostart instead"
)


class ServiceError(UnavailableError):
    """The service manager is missing or refused (the message says which, and what to do)."""


def supported() -> bool:
    """True where a user service can be installed: Linux with ``systemctl`` on the PATH."""
    return sys.platform.startswith("linux") and shutil.which("systemctl") is not None


def unit_dir() -> Path:
    """The folder of the account's own systemd units (``~/.config/systemd/user``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def unit_name(data_dir: Path) -> str:
    """The unit of ``data_dir``: ``porchlight.service`` for the platform's default data dir (not
    $PORCHLIGHT_DATA_DIR: the name must not depend on who asks), else one named by its path."""
    path = Path(data_dir).resolve()
    if path == Path(platformdirs.user_data_dir("porchlight", appauthor=False)).resolve():
        return DEFAULT_UNIT
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:10]
    return f"porchlight-{digest}.service"


def unit_path(data_dir: Path) -> Path:
    """Where the unit of ``data_dir`` is (or would be) installed."""
    return unit_dir() / unit_name(data_dir)


def installed(data_dir: Path) -> bool:
    """True when a user service owns the hub of ``data_dir`` (its unit file is installed)."""
    return sys.platform.startswith("linux") and unit_path(data_dir).is_file()


def linger() -> bool:
    """True when this account's services run without a log-in (``loginctl enable-linger``)."""
    import pwd  # Unix only

    return (LINGER_DIR / pwd.getpwuid(os.getuid()).pw_name).exists()


# -- the unit file -----------------------------------------------------------------------------------
def _quote(arg: str) -> str:
    """One argument of a unit's command line or ``Environment=``: double-quoted, with systemd's
    escapes (a backslash and a quote escaped; ``%`` and ``$`` doubled, so neither expands)."""
    text = _plain(arg).replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
    return f'"{text}"'


def _plain(text: str) -> str:
    """A value of a plain setting (Description=, WorkingDirectory=): ``%`` doubled."""
    if any(c in text for c in "\n\r\0"):
        raise ServiceError(f"{text!r} has a line break or NUL: it cannot go into a unit file")
    return text.replace("%", "%%")


def unit_text(data_dir: Path, command: list[str], env: dict[str, str]) -> str:
    """The unit that runs ``command`` (``serve`` on ``data_dir``) with ``env`` added."""
    data_dir = Path(data_dir).resolve()
    lines = [
        "# Written by `porchlight service install`; `porchlight service uninstall` removes it.",
        "[Unit]",
        f"Description=Porchlight hub: records the cameras of {_plain(str(data_dir))}",
        "",
        "[Service]",
        "Type=exec",
        "ExecStart=" + " ".join(_quote(a) for a in command),
        f"WorkingDirectory={_plain(str(data_dir))}",
    ]
    lines += [f"Environment={_quote(f'{k}={v}')}" for k, v in sorted(env.items())]
    lines += [
        "UMask=0077",
        "Restart=on-failure",
        f"RestartSec={RESTART_S}",
        f"RestartPreventExitStatus={EXIT_HELD}",
        # The hub finalizes the segments it writes on SIGTERM; give it time before a SIGKILL.
        "TimeoutStopSec=60",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def write_unit(data_dir: Path, text: str) -> bool:
    """Install ``text`` as the unit of ``data_dir`` (atomically; readable by the owner only: a
    ``--db-url`` may carry a password). Returns False when it was there already, unchanged."""
    path = unit_path(data_dir)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


# -- systemctl ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Answer:
    """What one ``systemctl --user`` call said."""

    code: int
    out: str
    err: str


def systemctl(*args: str, check: bool = True) -> Answer:
    """Run ``systemctl --user ARGS``; ServiceError when it is missing, or fails and ``check``."""
    exe = shutil.which("systemctl")
    if exe is None or not sys.platform.startswith("linux"):
        raise ServiceError(NO_SYSTEMD)
    try:
        done = subprocess.run(
            [exe, "--user", *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"`systemctl --user {' '.join(args)}` failed: {exc}") from None
    answer = Answer(done.returncode, done.stdout.strip(), done.stderr.strip())
    if check and answer.code != 0:
        said = answer.err or answer.out or f"exit status {answer.code}"
        raise ServiceError(f"`systemctl --user {' '.join(args)}` failed: {said.splitlines()[-1]}")
    return answer


def active_state(data_dir: Path) -> str:
    """``active``, ``inactive``, ``failed``, ``activating`` …: what systemd says of the unit."""
    return systemctl("is-active", unit_name(data_dir), check=False).out or "unknown"


def enabled(data_dir: Path) -> bool:
    """True when the unit starts at log-in (``systemctl --user enable``)."""
    return systemctl("is-enabled", unit_name(data_dir), check=False).out == "enabled"


def start(data_dir: Path) -> None:
    """Start the hub of ``data_dir`` through its service; ServiceError when systemd refuses."""
    name = unit_name(data_dir)
    try:
        systemctl("start", name)
    except ServiceError as exc:
        raise ServiceError(
            f"the user service {name} that owns the hub of {data_dir} did not start ({exc}); "
            f"see `porchlight service status`, or `porchlight service uninstall` to go without it"
        ) from None
