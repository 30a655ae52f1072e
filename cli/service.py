"""``porchlight service install|uninstall|status``: the hub as a systemd user service.

An installed service owns the data dir's hub: it records without a window, is restarted by systemd
when it fails, and the app starts it through systemd instead of starting a hub of its own. Starting
at log-in is opt-in (``--autostart``); recording before log-in also needs ``loginctl enable-linger``,
which only the owner runs (this command never touches logind).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from cli.common import CliError, command, print_json
from hub.api import hub_holds, launch, service
from hub.api.client import NoHub, SocketHub

LINGER_HINT = (
    "To record also before you log in (after a reboot), run once: loginctl enable-linger; "
    "until you log in, cameras with a password wait for the keyring to be unlocked."
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``service`` group to the top-level sub-parsers."""
    sv = sub.add_parser("service", help="run the hub as a user service (systemd)")
    ssub = sv.add_subparsers(dest="action", metavar="ACTION", required=True)
    ins = command(ssub.add_parser("install", help="install (and start) the hub's user service"), install)
    ins.add_argument("--autostart", action="store_true", help="also start it at log-in")
    ins.add_argument("--no-start", action="store_true", help="install it only; do not start it now")
    command(ssub.add_parser("uninstall", help="stop and remove the user service"), uninstall)
    st = command(ssub.add_parser("status", help="whether the service is installed and runs"), status)
    st.add_argument("--json", action="store_true")


def _require_systemd() -> None:
    if not service.supported():
        raise CliError(service.NO_SYSTEMD)


def _stop_hub(data_dir: Path) -> int | None:
    """Stop the hub running on ``data_dir`` (it finalizes its segments); returns its pid, or None."""
    try:
        api = launch.attach(data_dir, start=False, timeout_s=launch.START_TIMEOUT_S)
    except NoHub:
        return None
    with api:
        pid = api.hub_pid
        api.stop()
    return pid


def install(args: argparse.Namespace) -> int:
    """``service install [--autostart] [--no-start]``: write the unit, reload systemd, and start the
    hub through it (a hub already running on the data dir, the app's, is stopped first)."""
    _require_systemd()
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    name, path = service.unit_name(data_dir), service.unit_path(data_dir)
    text = service.unit_text(data_dir, launch.serve_command(data_dir, args.db_url), _service_env())
    changed = service.write_unit(data_dir, text)
    service.systemctl("daemon-reload")
    print(f"porchlight: {'installed' if changed else 'already installed:'} {path}", file=sys.stderr)
    state = service.active_state(data_dir)
    if state == "active":
        if changed:  # the running service must run what was just written
            service.systemctl("restart", name)
            print(f"porchlight: restarted {name} with the new unit", file=sys.stderr)
    elif not args.no_start:
        pid = _stop_hub(data_dir)  # the one hub of this data dir is the service's from now on
        if pid is not None:
            print(f"porchlight: stopped the hub that ran without the service (pid {pid})", file=sys.stderr)
    if args.autostart:
        service.systemctl("enable", name)
        print(f"porchlight: {name} starts at log-in", file=sys.stderr)
    if not args.no_start:
        # Started through the service (it is installed now), and waited for until it answers.
        with launch.attach(data_dir, args.db_url) as api:
            print(f"porchlight: {name} records (hub pid {api.hub_pid}); its log: {launch.log_path(data_dir)}")
    else:
        print(f"porchlight: {name} is installed; start it with: systemctl --user start {name}")
    if not service.linger():
        print(f"porchlight: {LINGER_HINT}", file=sys.stderr)
    return 0


def _service_env() -> dict[str, str]:
    """What the service hub needs of this process's environment: where its code is, and the
    keyring backend chosen by environment (if any)."""
    env = {"PYTHONPATH": launch.code_root()}
    env.update({k: os.environ[k] for k in service.CARRIED_ENV if os.environ.get(k)})
    return env


def uninstall(args: argparse.Namespace) -> int:
    """``service uninstall``: stop the service's hub (it finalizes its segments), disable it and
    remove the unit. Recordings and settings stay; the app or ``serve`` start a hub again."""
    data_dir = Path(args.data_dir).resolve()
    path = service.unit_path(data_dir)
    if not path.is_file():
        print(f"porchlight: no user service is installed for {data_dir}", file=sys.stderr)
        return 0
    _require_systemd()
    name = service.unit_name(data_dir)
    service.systemctl("disable", "--now", name)
    path.unlink()
    service.systemctl("daemon-reload")
    print(f"porchlight: removed {name}: nothing records {data_dir} until the app or `porchlight serve` runs")
    return 0


def status(args: argparse.Namespace) -> int:
    """``service status [--json]``: the unit, whether it is installed, runs and starts at log-in."""
    data_dir = Path(args.data_dir).resolve()
    path = service.unit_path(data_dir)
    report: dict[str, Any] = {
        "unit": service.unit_name(data_dir),
        "path": str(path),
        "installed": path.is_file(),
        "state": None,
        "autostart": False,
        "linger": False,
        "hub_pid": None,
    }
    if service.supported():
        report["linger"] = service.linger()
        if report["installed"]:
            report["state"] = service.active_state(data_dir)
            report["autostart"] = service.enabled(data_dir)
    if hub_holds(data_dir):
        try:
            with SocketHub.open(data_dir) as api:
                report["hub_pid"] = api.hub_pid
        except NoHub:
            pass
    if args.json:
        return print_json(report)
    if not report["installed"]:
        how = "" if service.supported() else " (and cannot be here: no systemd)"
        print(f"service: not installed{how}; install it with: porchlight service install")
    else:
        print(f"service: {report['unit']} ({report['path']})")
        print(f"state: {report['state']}; starts at log-in: {'yes' if report['autostart'] else 'no'}")
        print(f"runs before log-in (linger): {'yes' if report['linger'] else 'no'}")
    pid = report["hub_pid"]
    print(f"hub: running (pid {pid})" if pid else "hub: not running")
    return 0
