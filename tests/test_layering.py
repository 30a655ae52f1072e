"""Layering: ``hub/``, ``drivers/`` and ``cli/`` never import Qt (so ``porchlight serve`` runs headless),
checked by importing every module in a fresh interpreter and by the import-linter contracts in
pyproject.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _probe(*packages: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    r = subprocess.run(
        [sys.executable, "-m", "tests.support.import_probe", *packages],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _modules_on_disk(package: str) -> set[str]:
    root = REPO_ROOT / package
    out = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(REPO_ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out.add(".".join(parts))
    return out


def test_hub_and_drivers_import_without_qt():
    result = _probe("hub", "drivers")
    assert not result["failed"], result["failed"]
    assert not result["qt"], f"Qt loaded by hub/drivers: {result['qt'][:10]}"
    # Every module on disk was imported (the walk did not silently skip a subpackage).
    expected = (_modules_on_disk("hub") | _modules_on_disk("drivers")) - {"hub.db.migrations.env"}
    missing = sorted(expected - set(result["imported"]))
    assert not missing, f"not imported: {missing}"
    assert len(result["imported"]) >= 40


def test_cli_imports_without_qt():
    """Every command module loads without Qt: only ``porchlight`` with no command opens the app."""
    result = _probe("cli")
    assert not result["failed"], result["failed"]
    assert not result["qt"], f"Qt loaded by cli: {result['qt'][:10]}"
    missing = sorted(_modules_on_disk("cli") - {"cli.__main__"} - set(result["imported"]))
    assert not missing, f"not imported: {missing}"


def test_the_community_formats_load_nothing_of_the_engine():
    """The formats package is pure: importing it in a fresh interpreter loads no part of the engine,
    the API or the index, and no media, vision or keyring library (the agency's commands run with
    no data dir). The check can fail: ``hub.community`` alone is allowed, the engine is not."""
    code = (
        "import json, sys, importlib; importlib.import_module(sys.argv[1]); "
        "print(json.dumps(sorted(sys.modules)))"
    )
    heavy = (
        "hub.core",
        "hub.db",
        "hub.api",
        "hub.hub",
        "drivers",
        "sqlalchemy",
        "av",
        "cv2",
        "numpy",
        "keyring",
    )

    def loaded(module: str) -> list[str]:
        r = subprocess.run(
            [sys.executable, "-c", code, module], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60
        )
        assert r.returncode == 0, r.stderr[-2000:]
        return [m for m in json.loads(r.stdout) if m.split(".")[0] in heavy or m.startswith(heavy)]

    assert loaded("hub.community.formats") == []
    assert loaded("hub.hub")  # the probe sees the engine when it is there


#: What a client of a hub process never loads: the engine, the index, media and the keyring.
ENGINE = (
    "hub.api.index",
    "hub.api.local",
    "hub.api.server",
    "hub.db",
    "hub.hub",
    "hub.live",
    "hub.pipeline",
    "hub.recorder",
    "hub.storage",
    "drivers.registry",
    "sqlalchemy",
    "av",
    "keyring",
)


def _engine_loaded_by(*modules: str) -> list[str]:
    code = (
        "import json, sys, importlib\n"
        "for m in sys.argv[1:]: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, *modules],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return [m for m in json.loads(r.stdout) if m in ENGINE or m.startswith(tuple(e + "." for e in ENGINE))]


def test_the_app_loads_no_engine():
    """The app is a client of a hub process: its modules (and the launcher that starts that
    process) load the Hub API's client, never the engine, the index or media libraries. The check
    can fail: the in-process backend loads them."""
    ui_modules = sorted(m for m in _modules_on_disk("ui"))
    assert {"ui.app", "ui.main_window", "ui.tiles"} <= set(ui_modules)
    assert _engine_loaded_by(*ui_modules, "hub.api.launch") == []
    assert {"hub.hub", "sqlalchemy", "av"} <= set(_engine_loaded_by("hub.api.local"))


def test_probe_detects_qt():
    """The check above can fail: the ui package does load PySide6."""
    result = _probe("ui")
    assert any(m.startswith("PySide6") for m in result["qt"]), result["qt"][:5]


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail(f"lint-imports not installed next to {sys.executable} (pip install -e '.[test]')")
    r = subprocess.run(
        [str(lint), "--no-cache"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300, check=False
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout and "hub and drivers never import Qt KEPT" in r.stdout, r.stdout[-2000:]


def _contract(prefix: str) -> dict:
    import tomllib

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return next(c for c in config["tool"]["importlinter"]["contracts"] if c["name"].startswith(prefix))


def _hub_subsystems() -> set[str]:
    """hub's folders and top-level modules, but the Hub API itself."""
    return {
        f"hub.{p.stem}"
        for p in (REPO_ROOT / "hub").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")
    } - {"hub.api"}


def test_api_contracts_cover_every_subsystem():
    """A new folder of the engine is behind the Hub API from its first day: the contracts that keep
    the engine from importing the API, and the CLI from going around it, list every one."""
    subsystems = _hub_subsystems()
    assert {"hub.core", "hub.db", "hub.hub", "hub.config"} <= subsystems
    assert set(_contract("the engine never imports the Hub API")["source_modules"]) == subsystems
    assert set(_contract("the CLI reaches the hub only through")["forbidden_modules"]) == subsystems
    assert set(_contract("the app reaches the hub only through")["forbidden_modules"]) >= subsystems


# -- import cycles ----------------------------------------------------------------------------------
# Counted with grimp (import-linter's graph), which sees imports inside functions too: an import
# moved into a function to dodge a cycle is still a cycle. Imports under ``if TYPE_CHECKING:`` are
# left out; they never run.

PACKAGES = ("hub", "drivers", "ui", "cli")


def _graph(*packages: str):
    import grimp

    return grimp.build_graph(*packages, cache_dir=None, exclude_type_checking_imports=True)


def _strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of nodes that reach each other (Tarjan), only those of two or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(groups)


def _module_edges(graph) -> dict[str, set[str]]:
    return {
        m: {w for w in graph.find_modules_directly_imported_by(m) if w in graph.modules}
        for m in graph.modules
    }


def _subsystem(graph, module: str) -> str:
    """A module's folder: a package stands for itself, a plain module for the package it is in."""
    return module if graph.find_children(module) or "." not in module else module.rsplit(".", 1)[0]


def module_cycles(graph) -> list[list[str]]:
    return _strongly_connected(set(graph.modules), _module_edges(graph))


def subsystem_cycles(graph) -> list[list[str]]:
    """Cycles between folders (hub.storage -> hub.recorder -> hub.storage), even where no two
    modules import each other: each subsystem sits on those below it."""
    edges: dict[str, set[str]] = {}
    for m, imported in _module_edges(graph).items():
        a = _subsystem(graph, m)
        edges.setdefault(a, set()).update(b for b in (_subsystem(graph, w) for w in imported) if b != a)
    return _strongly_connected(set(edges), edges)


def _explain(graph, group: list[str]) -> str:
    members = set(group)
    lines = []
    for m in group:
        for w in sorted(graph.find_modules_directly_imported_by(m) & members):
            for d in graph.get_import_details(importer=m, imported=w):
                lines.append(f"  {m}:{d['line_number']}: {d['line_contents']}")
    return "\n".join(lines)


def test_no_import_cycles_between_modules():
    graph = _graph(*PACKAGES)
    assert len(graph.modules) > 90  # the packages were found, not an empty graph
    cycles = module_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(f"{c}\n{_explain(graph, c)}" for c in cycles)


def test_no_import_cycles_between_subsystems():
    graph = _graph(*PACKAGES)
    cycles = subsystem_cycles(graph)
    assert not cycles, f"folders that import each other: {cycles}"


def test_cycle_check_sees_imports_inside_functions(tmp_path, monkeypatch):
    """The checks above can fail: a cycle through an import inside a function is found, as is a
    cycle between two folders whose modules never import each other; a TYPE_CHECKING import is not
    counted."""
    root = tmp_path / "cyclepkg"
    files = {
        "__init__.py": "",
        "a.py": "def later():\n    from cyclepkg import b\n",
        "b.py": "import cyclepkg.a\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyclepkg import d\n",
        "d.py": "import cyclepkg.c\n",
        "x/__init__.py": "",
        "x/one.py": "import cyclepkg.y.one\n",
        "x/two.py": "",
        "y/__init__.py": "",
        "y/one.py": "",
        "y/two.py": "import cyclepkg.x.two\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = _graph("cyclepkg")
    assert module_cycles(graph) == [["cyclepkg.a", "cyclepkg.b"]]
    assert "from cyclepkg import b" in _explain(graph, ["cyclepkg.a", "cyclepkg.b"])
    assert subsystem_cycles(graph) == [["cyclepkg.x", "cyclepkg.y"]]
