"""Keeps the app attached to the hub of its data dir, through the hub going away and coming back.

The app is a client of a hub process (:mod:`hub.api.launch`). When that hub goes away the window
says so, and :class:`HubLink` gets it back:

- a hub that **stopped on purpose** (``porchlight stop``, another window's "Quit and stop
  recording", Ctrl-C in the terminal that runs ``serve``) is waited for: the link connects again as
  soon as a hub runs on the data dir, and starts none itself unless the owner asks
  (:meth:`HubLink.start_hub`);
- a hub that **went away** without saying so (killed, crashed) is started again after a wait that
  grows while it keeps failing (:class:`hub.api.launch.Backoff`). When another client (a second
  window) restarted it first, the link simply connects to that one: a data dir never gets two hubs.

The waiting and connecting run on a worker thread; the GUI thread only gets signals.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from hub.api import launch
from hub.api.client import NoHub
from hub.api.errors import CancelledError, HubError
from hub.api.protocol import HubApi

logger = logging.getLogger(__name__)

#: How often a link whose hub was stopped looks for it again (a connect to a socket that is not
#: there costs next to nothing).
POLL_S = 1.0
#: Said once a hub that someone else started answers again.
RUNS_AGAIN = "The hub runs again: connected to it."

Say = Callable[[str], None]
Task = Callable[[threading.Event, Say], tuple[HubApi, str]]  # the api, a note to show


class HubLink(QObject):
    """The app's connection to the hub of ``data_dir``; see the module's docstring."""

    #: Attached: the HubApi, and a note to show for a while ("" the first time).
    connected = Signal(object, str)
    #: What the link is doing while no hub answers, to show until ``connected`` ("" when nothing).
    message = Signal(str)
    #: A hub was started by this link: how ("pid 1234", "the user service porchlight.service").
    starting = Signal(str)
    #: The first attach failed (the exception): the app cannot go on.
    failed = Signal(object)

    _got = Signal(object, int, str)  # worker -> GUI thread: the api, its task's number, the note
    _said = Signal(str, int)
    _lost = Signal(object, int)

    def __init__(
        self,
        data_dir: Path,
        db_url: str | None = None,
        *,
        backoff: launch.Backoff | None = None,
        poll_s: float = POLL_S,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.db_url = db_url
        self.backoff = backoff or launch.Backoff()
        self.poll_s = poll_s
        self.api: HubApi | None = None
        #: Hubs this link started in place of one that went away.
        self.restarts = 0
        self._task_no = 0  # a task's result counts only while it is the newest task
        self._cancel = threading.Event()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._got.connect(self._on_got)
        self._said.connect(self._on_said)
        self._lost.connect(self._on_failed)

    # -- what the app asks (GUI thread) --------------------------------------------------------------
    def start(self) -> None:
        """Attach, starting a hub when none runs; ``failed`` when that cannot be done."""
        self._run(lambda cancel, _say: (self._attach(cancel), ""))

    def lost(self, why: str, stopped: bool) -> None:
        """The hub went away (the window's notices ended): ``stopped`` on purpose, or not."""
        old, self.api = self.api, None
        if old is not None:
            threading.Thread(target=old.close, name="porchlight-ui-hub-close", daemon=True).start()
        if stopped:
            logger.warning("%s; waiting for a hub to run on %s again", why, self.data_dir)
            self.message.emit(
                f"{sentence(why)} Nothing is recording — reconnecting as soon as the hub runs again. "
                "To record: File → Start recording, or porchlight serve."
            )
            self._run(self._wait_for_hub)
        else:
            logger.warning("%s; starting the hub of %s again", why, self.data_dir)
            self._run(lambda cancel, say: self._restart(why, cancel, say))

    def start_hub(self) -> None:
        """The owner asks to record again: start a hub now (or attach to one that runs)."""
        self.message.emit("Starting the hub…")
        self._run(lambda cancel, _say: (self._attach(cancel), "The hub is running again."))

    def close(self) -> None:
        """Stop trying, and close the connection (the hub runs on)."""
        self._closed = True
        self._cancel.set()
        for t in self._threads:
            t.join(15)
        self._threads.clear()
        if self.api is not None:
            self.api.close()
            self.api = None

    # -- the worker ------------------------------------------------------------------------------------
    def _run(self, task: Task) -> None:
        if self._closed:
            return
        self._cancel.set()  # the task before, if any, gives up; its result would be dropped
        self._cancel = cancel = threading.Event()
        self._task_no += 1
        no = self._task_no
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(
            target=self._work, args=(task, cancel, no), name="porchlight-ui-hub-link", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self, task: Task, cancel: threading.Event, no: int) -> None:
        try:
            api, note = task(cancel, lambda text: self._said.emit(text, no))
        except CancelledError:
            return
        except BaseException as exc:  # noqa: BLE001 - told to the GUI thread
            self._lost.emit(exc, no)
            return
        self._got.emit(api, no, note)

    def _attach(self, cancel: threading.Event, started: list[str] | None = None) -> HubApi:
        """launch.attach, starting a hub when none runs (how is told, and added to ``started``)."""

        def on_start(how: str) -> None:
            if started is not None:
                started.append(how)
            self.starting.emit(how)

        return launch.attach(self.data_dir, self.db_url, on_start=on_start, cancel=cancel)

    def _wait_for_hub(self, cancel: threading.Event, say: Say) -> tuple[HubApi, str]:
        while not cancel.wait(self.poll_s):
            try:
                api = launch.attach(self.data_dir, self.db_url, start=False, cancel=cancel)
                return api, RUNS_AGAIN
            except NoHub:
                continue
            except CancelledError:
                raise
            except (HubError, OSError) as exc:  # one runs but cannot be used (another version)
                say(f"A hub runs on {self.data_dir} but cannot be used: {exc}")
        raise CancelledError("stopped waiting")

    def _restart(self, why: str, cancel: threading.Event, say: Say) -> tuple[HubApi, str]:
        headline = f"The hub went away ({why})"
        while True:
            delay = self.backoff.next_delay()
            attempt = self.backoff.attempt
            say(
                f"{headline} — restarting it in {delay:g} s (attempt {attempt}); nothing is recording meanwhile."
            )
            if cancel.wait(delay):
                raise CancelledError("stopped restarting")
            say(f"Starting the hub again (attempt {attempt})…")
            started: list[str] = []
            try:
                api = self._attach(cancel, started)
            except CancelledError:
                raise
            except (HubError, OSError) as exc:
                logger.warning("the hub of %s did not start again: %s", self.data_dir, exc)
                headline = f"The hub did not start again ({exc})"
                continue
            if not started:  # another client had started it again already
                return api, RUNS_AGAIN
            self.restarts += 1
            logger.warning("started the hub of %s again (%s)", self.data_dir, started[0])
            return (
                api,
                f"The hub went away and was started again ({started[0]}); its log: {launch.log_path(self.data_dir)}.",
            )

    # -- back on the GUI thread --------------------------------------------------------------------
    def _on_got(self, api: HubApi, no: int, note: str) -> None:
        if self._closed or no != self._task_no:
            api.close()  # a task that was given up on
            return
        self.api = api
        self.backoff.up()
        pid = getattr(api, "hub_pid", None)
        logger.info("connected to the hub of %s (pid %s)", self.data_dir, pid)
        self.message.emit("")
        self.connected.emit(api, note)

    def _on_said(self, text: str, no: int) -> None:
        if not self._closed and no == self._task_no:
            self.message.emit(text)

    def _on_failed(self, exc: BaseException, no: int) -> None:
        if self._closed or no != self._task_no:
            return
        logger.warning("cannot reach the hub of %s: %s", self.data_dir, exc)
        if self.api is None and no == 1:
            self.failed.emit(exc)  # the first attach: the app cannot show anything
        else:
            self.message.emit(f"Cannot reach the hub: {exc}")


def sentence(text: str) -> str:
    """``text`` as a sentence: capitalised, with a full stop."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."
