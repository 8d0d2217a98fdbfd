"""What `pip install lotusx` gives a user: the declarations in pyproject.toml match the package they describe."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
STDLIB = set(sys.stdlib_module_names)


def _dist(requirement: str) -> str:
    """The normalized distribution name of a requirement string (``limits[async-redis]>=4.0`` -> ``limits``)."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group()).lower()


def _top_level_imports(tree: ast.Module) -> set[str]:
    """The top-level modules a module imports when it is imported (not inside functions or TYPE_CHECKING)."""
    found: set[str] = set()
    body = list(tree.body)
    while body:
        node = body.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            body += node.body + node.orelse
        elif isinstance(node, ast.Try):
            body += node.body
    return found


def test_every_module_level_import_is_a_required_dependency() -> None:
    """`import lotusx.<anything>` works with only the required dependencies (or what they require) installed."""
    required = {_dist(req) for req in PYPROJECT["project"]["dependencies"]}
    reachable = set(required)
    for dist in required:
        reachable |= {_dist(req) for req in importlib.metadata.requires(dist) or () if "extra ==" not in req}
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for path in sorted((ROOT / "lotusx").rglob("*.py")):
        for module in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))) - STDLIB - {"lotusx"}:
            dists = {_dist(name) for name in providers.get(module, [module])}
            if not dists & reachable:
                missing[str(path.relative_to(ROOT))] = module
    assert not missing


def test_lotusx_imports_without_the_redis_extra() -> None:
    """Without coredis (the `redis` extra), every lotusx package imports and the CLI prints its help."""
    code = (
        "import sys; sys.modules['coredis'] = None\n"  # None in sys.modules: `import coredis` raises ImportError
        "import lotusx, lotusx.cli, lotusx.sim, lotusx.testing, lotusx.book, lotusx.ws, lotusx.layers\n"
        "import lotusx.exchanges.binance, lotusx.exchanges.bybit\n"
        "lotusx.cli.main(['--help'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "new-exchange" in done.stdout


def test_entry_points_name_what_exists() -> None:
    """The console script and each `lotusx.exchanges` entry point resolve to an attribute of the package."""
    targets = [PYPROJECT["project"]["scripts"]["lotusx"],
               *PYPROJECT["project"]["entry-points"]["lotusx.exchanges"].values()]
    for target in targets:
        module, _, attribute = target.partition(":")
        assert hasattr(importlib.import_module(module), attribute), target


def test_every_package_directory_is_a_regular_package_with_type_information() -> None:
    """Each directory under lotusx/ holding modules has an __init__.py, and py.typed ships as package data."""
    for directory in (ROOT / "lotusx").rglob("*"):
        if directory.is_dir() and any(directory.glob("*.py")):
            assert (directory / "__init__.py").is_file(), directory
    assert (ROOT / "lotusx" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["lotusx"]
