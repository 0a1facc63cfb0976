"""The layout of DESIGN.md, checked: who may import whom, one way only.

``processing`` imports no Django and nothing of the project; nothing in
``gallery`` or ``processing`` imports ``artstudio_site``; the gallery's own
modules import each other without cycles and at the top of the file (an
import inside a function that exists to break a cycle hides the cycle); and
no module of ``gallery`` grows past about 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400
# Imports deliberately made on first use, and why (not to break a cycle).
LAZY_IMPORTS = {
    # Numba (LLVM) costs ~130 MB and ~0.5 s: web processes that only decode
    # and list styles never load the kernels.
    ("processing.looks", "processing.kernels"),
    # fill_kernel_cache reads Numba's cache index, in the processes that are
    # about to warm the kernels up anyway (the rq worker, gunicorn's master).
    ("processing", "processing.kernels"),
    # PyAV (FFmpeg) costs ~25 MB in every process that imports it: web
    # processes and a photo's job never do (processing.video's LAZY names).
    ("processing", "processing.video"),
    ("processing.video", "processing.video.render"),
}


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = {**_modules("gallery"), **_modules("processing")}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at top level?) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            # "from gallery import services" imports the module gallery.services.
            for name in names:
                target = name if name in MODULES else node.module
                found.append((target, id(node) in top))
    return found


def _project_imports(module: str) -> set[str]:
    return {
        name
        for name, _top in _imports(MODULES[module])
        if name in MODULES and name != module
    }


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_of_the_project_package(module):
    for name, _top in _imports(MODULES[module]):
        assert not name.startswith("artstudio_site"), (module, name)


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m.startswith("processing"))
)
def test_processing_imports_no_django_and_no_gallery(module):
    for name, _top in _imports(MODULES[module]):
        assert not name.startswith(("django", "gallery")), (module, name)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_project_imports_are_at_the_top_of_the_file(module):
    if module == "gallery.apps":  # AppConfig.ready: Django's own pattern
        return
    for name, top in _imports(MODULES[module]):
        if name.split(".")[0] in ("gallery", "processing"):
            lazy = (module, name) in LAZY_IMPORTS
            assert top or lazy, f"{module} imports {name} inside a function"


def test_no_import_cycles():
    graph = {module: _project_imports(module) for module in MODULES}
    # A package's __init__ that re-exports its submodules is not a cycle.
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not module.startswith(t + ".")}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_job_side_never_imports_the_write_services():
    for module in MODULES:
        if module.startswith("gallery.pipeline"):
            assert "gallery.services" not in _project_imports(module), module


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m.startswith("gallery"))
)
def test_gallery_modules_stay_small(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by concern"
