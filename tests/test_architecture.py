"""The layers import only downwards (see DESIGN.md): a wrong arrow fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "redislab"

# layer -> redislab layers it must not import
FORBIDDEN_INTERNAL = {
    "protocol": {"engine", "server", "ui", "learn", "sim", "cli", "client"},
    "engine": {"server", "ui", "learn", "sim", "cli", "client"},
    "learn": {"ui", "server", "cli"},
    "sim": {"ui", "server", "cli"},
    "server": {"ui", "cli", "learn"},
}
TERMINAL_LIBS = {"rich", "prompt_toolkit", "typer"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: list[str] = []
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names.append(mod)
    return names


def _files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_layer_imports(path: Path) -> None:
    rel = path.relative_to(ROOT)
    layer = rel.parts[0].removesuffix(".py")
    for name in _imports(path):
        top = name.split(".")[0]
        if top in TERMINAL_LIBS:
            if layer == "ui" or (layer == "cli" and top == "typer"):
                continue
            pytest.fail(f"{rel} imports {name}: only ui/ may use rich and prompt_toolkit, "
                        "only cli.py typer")
        if name.startswith("redislab."):
            target = name.split(".")[1]
            if target in FORBIDDEN_INTERNAL.get(layer, set()):
                pytest.fail(f"{rel} imports {name}: {layer} must not depend on {target}")
