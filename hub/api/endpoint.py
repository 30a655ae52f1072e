"""Where a hub listens: ``hub.sock`` in its data dir, a Unix socket only the owner's account may use.

A Unix socket's path is limited (108 bytes on Linux, the final NUL included; 104 on macOS). When the
data dir's ``hub.sock`` would be longer, the hub listens on a short path in the owner's runtime dir
(``$XDG_RUNTIME_DIR``, else a private ``porchlight-<uid>`` folder in the temp dir), named after the
data dir, and ``hub.sock`` in the data dir is a symbolic link to it: the data dir still names its
hub's socket, and a client follows the link.

Never a TCP port. Windows: Python has no Unix sockets there, so no hub listens (clients use the
index, see README).
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import sys
import tempfile
from pathlib import Path

from hub.api.errors import ConflictError, UnavailableError

SOCKET_NAME = "hub.sock"
#: The longest path ``bind``/``connect`` take (``sun_path`` less its final NUL).
MAX_PATH = 103 if sys.platform == "darwin" else 107
#: Whether this platform has Unix sockets at all.
SUPPORTED = hasattr(socket, "AF_UNIX")


def link_path(data_dir: Path) -> Path:
    """``hub.sock`` in the data dir: the socket itself, or a link to it."""
    return Path(data_dir) / SOCKET_NAME


def fits(path: Path) -> bool:
    """True when ``path`` is short enough for a Unix socket."""
    return len(os.fsencode(str(path))) <= MAX_PATH


def runtime_dir() -> Path:
    """The owner's private folder for sockets: ``$XDG_RUNTIME_DIR``, else ``<tmp>/porchlight-<uid>``
    (made 0700; refused when another account owns it or may enter it)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
        return Path(xdg)
    folder = Path(tempfile.gettempdir()) / f"porchlight-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = folder.lstat()
    except OSError as exc:
        raise UnavailableError(f"cannot make a private folder for the hub's socket: {exc}") from None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise UnavailableError(
            f"{folder} is not a private folder of this account: remove it, or set XDG_RUNTIME_DIR"
        )
    return folder


def short_path(data_dir: Path) -> Path:
    """The socket's path in the runtime dir for a data dir whose own ``hub.sock`` is too long."""
    key = hashlib.sha256(os.fsencode(str(Path(data_dir).resolve()))).hexdigest()[:16]
    return runtime_dir() / f"porchlight-{key}.sock"


def listen_path(data_dir: Path) -> Path:
    """Where the hub of ``data_dir`` binds its socket (``hub.sock`` itself when it fits)."""
    link = link_path(data_dir)
    if fits(link):
        return link
    short = short_path(data_dir)
    if not fits(short):
        raise UnavailableError(
            f"the hub's socket path {short} is longer than the {MAX_PATH} bytes a Unix socket allows: "
            "set XDG_RUNTIME_DIR to a shorter folder"
        )
    return short


def connect_path(data_dir: Path) -> Path | None:
    """Where the hub of ``data_dir`` listens, following ``hub.sock``'s link; None when there is no
    ``hub.sock`` (no hub listens)."""
    link = link_path(data_dir)
    try:
        st = link.lstat()
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        target = Path(os.readlink(link))
        return target if target.is_absolute() and fits(target) else None
    return link if stat.S_ISSOCK(st.st_mode) and fits(link) else None


def remove_stale(data_dir: Path) -> None:
    """Remove a socket (and its link) left by a hub that did not stop cleanly. Only a hub that holds
    the data dir's lock may call this: then no other hub listens there."""
    link = link_path(data_dir)
    try:
        st = link.lstat()
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        target = Path(os.readlink(link))
        link.unlink()
        if target.is_absolute() and target.parent == runtime_dir():
            _unlink_socket(target)
    elif st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            raise ConflictError(f"{link} is not a socket: move it away so that the hub can listen there")
        link.unlink()
    if not fits(link):
        _unlink_socket(short_path(data_dir))


def _unlink_socket(path: Path) -> None:
    try:
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
    except FileNotFoundError:
        pass
