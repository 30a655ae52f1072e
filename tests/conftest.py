"""Suite-wide setup: offscreen Qt, the file keyring for us and our subprocesses, peer fixtures."""

from __future__ import annotations

import os

# Before anything imports PySide6: without a platform and without DISPLAY, Qt aborts the process.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import logging  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Generator, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import psutil  # noqa: E402
import pytest  # noqa: E402

from cli.serve import LIFETIME_ENV  # noqa: E402  (light: argparse and the Hub API client)
from hub.api import HubApi  # noqa: E402
from hub.api.frames import TAG_ENV as SHM_TAG_ENV  # noqa: E402
from hub.api.frames import slot_dir  # noqa: E402
from tests.support import leaks  # noqa: E402
from tests.support.apitools import BACKENDS, open_api  # noqa: E402
from tests.support.clips import CameraClips, ClipSpec, make_camera_clips  # noqa: E402
from tests.support.hubtools import configure  # noqa: E402
from tests.support.keyring_backend import ENV as KEYRING_ENV  # noqa: E402
from tests.support.peers import require_rtsp_peers  # noqa: E402
from tests.support.rtsp import RtspCamera  # noqa: E402

logger = logging.getLogger(__name__)

# tests/netns runs in its own pytest session inside a loopback-only network namespace (make test).
if [name for _i, name in __import__("socket").if_nameindex()] != ["lo"]:
    collect_ignore = ["netns"]

REPO_ROOT = Path(__file__).resolve().parents[1]
CLIP_CACHE = REPO_ROOT / "tests" / ".cache" / "clips"
THREAD_PREFIX = "porchlight"
THREAD_GRACE_S = float(os.environ.get("PORCHLIGHT_TEST_THREAD_GRACE_S", "5"))  # env: for self-tests

# Never a real keyring: this process and every subprocess (`porchlight serve`) use the file backend,
# which they import as tests.support.keyring_backend from the repo root.
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.support.keyring_backend.FileKeyring"
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
# Live-view slots in /dev/shm carry this run's tag (this process and the serves it starts), so the
# guard below finds ours, not another xdist worker's, CI run's or the owner's.
os.environ[SHM_TAG_ENV] = f"t{os.getpid()}"
RUN_TAG = os.environ[SHM_TAG_ENV]
SHM_PATTERN = f"porchlight-{RUN_TAG}-*"
# The tag also tells the process guard below which processes are ours when they are not our children
# (a detached serve). And every serve this suite starts ends by itself, also one that escaped it.
os.environ.setdefault(LIFETIME_ENV, "900")


@pytest.fixture(scope="session", autouse=True)
def _test_keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``$PORCHLIGHT_TEST_KEYRING`` points into the session's tmp dir (one per xdist worker)."""
    path = tmp_path_factory.getbasetemp() / "keyring.json"
    old = os.environ.get(KEYRING_ENV)
    os.environ[KEYRING_ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(KEYRING_ENV, None)
    else:
        os.environ[KEYRING_ENV] = old


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves ``porchlight*`` threads alive 5 s after it ends (joined until then)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE_S
    leaked = []
    for thread in threading.enumerate():
        if thread in before or not thread.name.startswith(THREAD_PREFIX):
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            leaked.append(thread.name)
    if leaked:
        pytest.fail(
            f"threads still alive {THREAD_GRACE_S:g} s after the test: {', '.join(leaked)}", pytrace=False
        )


@pytest.fixture(autouse=True)
def _no_leaked_frame_slots() -> Iterator[None]:
    """Fail a test that leaves a live-view slot of this run in shared memory 5 s after it ends (a
    hub removes its slots when it stops); the leftovers are removed so that the next test starts clean."""
    yield
    deadline = time.monotonic() + THREAD_GRACE_S
    while (left := sorted(slot_dir().glob(SHM_PATTERN))) and time.monotonic() < deadline:
        time.sleep(0.1)
    for path in left:
        path.unlink(missing_ok=True)
    if left:
        names = ", ".join(p.name for p in left)
        pytest.fail(f"{THREAD_GRACE_S:g} s after the test, live-view slots remain: {names}", pytrace=False)


def _unix_sockets(me: psutil.Process) -> dict[int, str]:
    """The test process's open Unix sockets by fd: Hub API clients and servers (nothing else in the
    suite opens one; PostgreSQL is reached over TCP)."""
    return {c.fd: str(c.raddr or c.laddr or "unnamed") for c in me.net_connections(kind="unix")}


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[object]) -> Generator[None, object, object]:
    """What a session-scoped fixture starts lives for the session, also when it runs detached (not our
    child: a server that daemonizes) and a test's setup is what first asked for the fixture."""
    if fixturedef.scope != "session":
        return (yield)
    pids_before = _own_pids()
    value = yield  # a setup that fails exempts nothing
    for p in _tagged(_own_pids() - pids_before):
        leaks.lives_for_the_session(p.pid)
    return value


@pytest.fixture(autouse=True)
def _no_leaked_processes_or_unix_sockets() -> Iterator[None]:
    """Fail a test that leaves a process running (a ``serve``, a peer) or a Unix socket (a Hub API client
    or server) open 5 s after it ends; leaked processes are killed so that the next test starts clean.

    Ours are this process's new children, and new processes whose environment carries this run's tag
    (every subprocess inherits it): a detached serve (its own session, its parent gone) is no child."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    pids_before = _own_pids()
    conns_before = set(_unix_sockets(me))
    yield
    detached = _tagged(_own_pids() - pids_before)  # read once: environ is the costly part
    deadline = time.monotonic() + THREAD_GRACE_S
    while True:
        ours = {p.pid: p for p in detached}
        ours.update((p.pid, p) for p in me.children(recursive=True) if p.pid not in before)
        alive = [p for p in ours.values() if _running(p) and not _session_lived(p)]
        conns = {fd: peer for fd, peer in _unix_sockets(me).items() if fd not in conns_before}
        if (not alive and not conns) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    problems = []
    if alive:
        names = []
        for p in alive:
            try:
                names.append(f"{p.pid} {' '.join(p.cmdline())[:160]}")
                p.kill()
            except psutil.Error:
                continue
        problems.append("processes still running: " + "; ".join(names))
    if conns:
        problems.append(
            "Unix sockets still open (Hub API clients or servers): " + ", ".join(sorted(set(conns.values())))
        )
    if problems:
        pytest.fail(f"{THREAD_GRACE_S:g} s after the test, " + "; ".join(problems), pytrace=False)


def _own_pids() -> set[int]:
    """Every process of this user: one pass over the process table that reads no environment."""
    uid = os.getuid()
    return {
        p.info["pid"]
        for p in psutil.process_iter(["pid", "uids"])
        if p.info["uids"] and p.info["uids"].real == uid
    }


def _tagged(pids: set[int]) -> list[psutil.Process]:
    """Those of ``pids`` (this process aside) whose environment carries this run's tag."""
    found = []
    for pid in pids - {os.getpid()}:
        try:
            p = psutil.Process(pid)
            if p.environ().get(SHM_TAG_ENV) == RUN_TAG:
                found.append(p)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def _session_lived(p: psutil.Process) -> bool:
    try:
        return p.pid in leaks.session_pids or any(a.pid in leaks.session_pids for a in p.parents())
    except psutil.Error:
        return False


def _running(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data dir with a new index and no cameras (a module may give its own)."""
    data = tmp_path / "data"
    configure(data, [])
    return data


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, data: Path) -> Iterator[HubApi]:
    """The Hub API on ``data``, once per backend (tests/support/apitools.py), closed afterwards."""
    api = open_api(request.param, data)
    try:
        yield api
    finally:
        api.close()


@pytest.fixture(scope="session")
def camera_clips() -> Callable[[ClipSpec], CameraClips]:
    """Factory: ``camera_clips(spec)`` -> the (cached) main and sub clips for ``spec``."""

    def make(spec: ClipSpec | None = None) -> CameraClips:
        return make_camera_clips(spec or ClipSpec(), CLIP_CACHE)

    return make


@pytest.fixture
def rtsp_camera(
    camera_clips: Callable[[ClipSpec], CameraClips], tmp_path: Path
) -> Iterator[Callable[..., RtspCamera]]:
    """Factory: ``rtsp_camera(spec=..., audio=False, user=None, password=None)`` -> a started camera.

    Skips (or fails with ``CI=true``) when ffmpeg or gst-rtsp-server is missing. Every camera is
    closed at teardown; logs go to ``<tmp_path>/cameraN/``.
    """
    require_rtsp_peers()
    cameras: list[RtspCamera] = []

    def start(
        spec: ClipSpec | None = None,
        audio: bool = False,
        user: str | None = None,
        password: str | None = None,
    ) -> RtspCamera:
        clips = camera_clips(spec or ClipSpec())
        camera = RtspCamera(
            clips, tmp_path / f"camera{len(cameras)}", audio=audio, user=user, password=password
        )
        cameras.append(camera)
        return camera.start()

    yield start
    for camera in cameras:
        camera.close()
