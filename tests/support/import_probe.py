"""Run as a script: import every module of the given packages, then report what Qt got loaded.

``python -m tests.support.import_probe hub drivers`` prints one JSON object:
``{"imported": [...], "failed": {module: error}, "qt": [...]}`` where ``qt`` lists the loaded modules
of PySide6, shiboken6, PyQt5 and PyQt6.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

QT_ROOTS = ("PySide6", "shiboken6", "PyQt5", "PyQt6")
#: Alembic's env.py runs migrations at import time and only works inside ``alembic`` itself;
#: ``cli/__main__.py`` runs the command line when imported.
NOT_IMPORTABLE = {"hub.db.migrations.env", "cli.__main__"}


def probe(packages: list[str]) -> dict:
    """Import ``packages`` and all their submodules (recursively)."""
    imported: list[str] = []
    failed: dict[str, str] = {}
    for name in packages:
        pkg = importlib.import_module(name)
        imported.append(name)
        walk = pkgutil.walk_packages(pkg.__path__, name + ".", onerror=lambda n: failed.setdefault(n, "walk"))
        for info in walk:
            if info.name in NOT_IMPORTABLE:
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 - reported, the test fails on it
                failed[info.name] = f"{type(exc).__name__}: {exc}"
            else:
                imported.append(info.name)
    qt = sorted(m for m in sys.modules if m.split(".", 1)[0] in QT_ROOTS)
    return {"imported": imported, "failed": failed, "qt": qt}


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1:])))
