"""The storage marker: initialize, check (ok / missing / foreign / unwritable), disk usage."""

from __future__ import annotations

import errno
import json
import os
import uuid

import pytest

from hub.core.errors import StorageError
from hub.core.times import parse_rfc3339
from hub.storage import marker as marker_mod
from hub.storage.marker import (
    MARKER_NAME,
    check_storage,
    disk_state,
    initialize_storage,
    read_marker,
)

ID = str(uuid.uuid4())


def test_initialize_creates_the_folder_and_an_atomic_marker(tmp_path):
    root = tmp_path / "a" / "b" / "recordings"
    m = initialize_storage(root, ID)
    data = json.loads((root / MARKER_NAME).read_text())
    assert data["storage_id"] == ID == m.storage_id
    assert parse_rfc3339(data["created"]) > 0 and data["created"].endswith("Z")
    assert os.listdir(root) == [MARKER_NAME]  # no temporary file left behind
    assert check_storage(root, ID).state == "ok"
    assert check_storage(root, ID).ok


def test_initialize_is_idempotent_and_refuses_another_setups_folder(tmp_path):
    first = initialize_storage(tmp_path, ID)
    assert initialize_storage(tmp_path, ID.upper()) == first  # same uuid, written differently
    assert check_storage(tmp_path, uuid.UUID(ID).hex).ok
    with pytest.raises(StorageError, match="another Porchlight"):
        initialize_storage(tmp_path, str(uuid.uuid4()))
    with pytest.raises(ValueError):
        initialize_storage(tmp_path / "x", "not-a-uuid")


def test_hex_ids_are_kept_as_given(tmp_path):
    hex_id = uuid.uuid4().hex  # what the index stores
    initialize_storage(tmp_path, hex_id)
    assert json.loads((tmp_path / MARKER_NAME).read_text())["storage_id"] == hex_id
    assert check_storage(tmp_path, hex_id).ok
    assert check_storage(tmp_path, str(uuid.UUID(hex_id))).ok
    assert check_storage(tmp_path, uuid.uuid4().hex).state == "foreign"


def test_missing_folder_and_missing_marker(tmp_path):
    gone = check_storage(tmp_path / "external-disk", ID)
    assert gone.state == "missing" and "connect" in gone.message
    empty_mount_point = tmp_path / "mnt"
    empty_mount_point.mkdir()
    check = check_storage(empty_mount_point, ID)
    assert check.state == "missing" and "not connected" in check.message
    assert os.listdir(empty_mount_point) == []  # the check wrote nothing there


def test_foreign_and_damaged_markers(tmp_path):
    initialize_storage(tmp_path, str(uuid.uuid4()))
    foreign = check_storage(tmp_path, ID)
    assert foreign.state == "foreign" and "another Porchlight" in foreign.message
    (tmp_path / MARKER_NAME).write_text("{ half a marker")
    damaged = check_storage(tmp_path, ID)
    assert damaged.state == "foreign" and "damaged" in damaged.message
    with pytest.raises(ValueError):
        read_marker(tmp_path)
    initialize_storage(tmp_path, ID)  # choosing the folder again repairs it
    assert check_storage(tmp_path, ID).ok


@pytest.mark.parametrize(
    ("err", "state", "words"),
    [
        (errno.EACCES, "unwritable", "permission"),
        (errno.ENOSPC, "full", "is full"),
        (errno.EROFS, "unwritable", "read-only"),
    ],
)
def test_unwritable(tmp_path, monkeypatch, err, state, words):
    initialize_storage(tmp_path, ID)

    def refuse(root):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(marker_mod, "_write_probe", refuse)
    check = check_storage(tmp_path, ID)
    # A full disk is still our folder: retention may purge it (unlike an unwritable one).
    assert check.state == state and words in check.message and not check.ok


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_for_real(tmp_path):
    initialize_storage(tmp_path, ID)
    tmp_path.chmod(0o555)
    try:
        assert check_storage(tmp_path, ID).state == "unwritable"
    finally:
        tmp_path.chmod(0o755)


def test_write_probe_leaves_nothing(tmp_path):
    initialize_storage(tmp_path, ID)
    for _ in range(3):
        assert check_storage(tmp_path, ID).ok
    assert os.listdir(tmp_path) == [MARKER_NAME]


def test_disk_state(tmp_path):
    free, total = disk_state(tmp_path)
    assert 0 <= free <= total and total > 0
    with pytest.raises(OSError):
        disk_state(tmp_path / "missing")


_IN_NAMESPACE = r"""
import sys, subprocess
from hub.storage.marker import check_storage, initialize_storage
root, storage_id = sys.argv[1], sys.argv[2]
initialize_storage(root, storage_id)
with open(root + "/filler", "wb", buffering=0) as f:  # fill the small tmpfs
    try:
        while True:
            f.write(b"\0" * 4096)
    except OSError:
        pass
print(check_storage(root, storage_id).message)
subprocess.run(["mount", "-o", "remount,ro", root], check=True)
print(check_storage(root, storage_id).message)
"""


def _can_unshare() -> bool:
    import shutil
    import subprocess

    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs root and mount namespaces (unshare -m)")
def test_full_and_read_only_disks_for_real(tmp_path):
    import subprocess
    import sys

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "check.py"
    script.write_text(_IN_NAMESPACE)
    # A private mount namespace: the tmpfs vanishes with the process.
    cmd = f'mount -t tmpfs -o size=1m tmpfs "{mnt}" && exec "{sys.executable}" "{script}" "{mnt}" {ID}'
    r = subprocess.run(
        ["unshare", "-m", "sh", "-c", cmd],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert r.returncode == 0, r.stderr
    full, read_only = r.stdout.strip().splitlines()
    assert " is full: " in full
    assert "the disk is read-only" in read_only
