"""The layers of the house, as contracts: faces go through aigc_core.studio, limits have one home.

`lint-imports` checks the contracts in pyproject.toml (ui/, the CLI, models, quality, experiments); pages/ is
not a package (Streamlit runs each page by its path), so its imports are read here with `ast`.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What a page script may import from the library: the door, and the config it fills in.
PAGE_MODULES = {"aigc_core.studio", "aigc_core.config", "aigc_core.messages"}


def library_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `aigc_core` module a file imports, `from aigc_core import x` as `aigc_core.x`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("aigc_core")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aigc_core"):
            if node.module == "aigc_core":
                found += [(node.lineno, f"aigc_core.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_the_import_contracts_hold():
    command = shutil.which("lint-imports")
    assert command, "lint-imports is missing: pip install -r requirements-dev.txt (import-linter)"
    result = subprocess.run([command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_pages_and_the_router_import_only_the_door():
    scripts = sorted((PROJECT_ROOT / "pages").glob("*.py")) + [PROJECT_ROOT / "app.py"]
    assert len(scripts) > 5
    wrong = [f"{path.relative_to(PROJECT_ROOT)}:{line} imports {module}"
             for path in scripts for line, module in library_imports(path) if module not in PAGE_MODULES]
    assert wrong == []


def test_the_import_reader_sees_every_form_of_import(tmp_path):
    script = tmp_path / "page.py"
    script.write_text("import aigc_core.runs.store\nfrom aigc_core import files, studio\nfrom aigc_core.data import x\n"
                      "def f():\n    from aigc_core.runs.training import y\n")
    assert [module for _, module in library_imports(script)] == [
        "aigc_core.runs.store", "aigc_core.files", "aigc_core.studio", "aigc_core.data", "aigc_core.runs.training"]


# The library's top level holds the door, the CLI and the small plain modules every layer shares
# (config, data, files, limits, messages, ...); everything else lives in models/, runs/, quality/
# or experiments/. Two more may come; a third means a sub-package was skipped.
MAX_FLAT_MODULES = 17


def test_the_library_stays_grouped_in_sub_packages():
    flat = sorted(path.name for path in (PROJECT_ROOT / "aigc_core").glob("*.py"))
    assert len(flat) <= MAX_FLAT_MODULES, (
        f"expected at most {MAX_FLAT_MODULES} modules directly in aigc_core/, received {len(flat)}: {flat}; "
        "put a new module in models/, runs/, quality/ or experiments/")
    packages = {path.parent.name for path in (PROJECT_ROOT / "aigc_core").glob("*/__init__.py")}
    assert {"models", "runs", "quality", "experiments"} <= packages


def is_seed_bound(node: ast.AST) -> bool:
    """`2**31` (the seed bound is `2**31 - 1`) written out in code."""
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)
            and isinstance(node.left, ast.Constant) and node.left.value == 2
            and isinstance(node.right, ast.Constant) and node.right.value == 31)


def test_the_seed_bound_is_written_once_in_limits():
    sources = [*(PROJECT_ROOT / "aigc_core").rglob("*.py"), *(PROJECT_ROOT / "ui").glob("*.py"),
               *(PROJECT_ROOT / "pages").glob("*.py"), PROJECT_ROOT / "app.py"]
    written = [f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}" for path in sources
               for node in ast.walk(ast.parse(path.read_text())) if is_seed_bound(node)]
    assert len(written) == 1 and written[0].startswith("aigc_core/limits.py"), written
