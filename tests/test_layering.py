"""thead's modules form layers and every import points down (or within its layer): the README's "where things
live" drawing, kept true by walking the imports of every module (those inside functions too)."""

import pytest
import ast
from pathlib import Path

from tests.conftest import ROOT

# lowest first; a module may import its own layer and any layer below
LAYERS = [
    {"errors", "files", "weights", "zoo"},
    {"media", "audio"},
    {"face"},
    {"metrics"},
    {"manifest", "runner", "declare", "executors", "recipes", "viz", "postprocess", "budget"},
    {"train"},
    {"stages"},
    {"systems"},
    {"report", "papers", "cli", "__main__"},
]


def layer_of(parts: tuple[str, ...]) -> int:
    top = parts[0].removesuffix(".py")
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"thead.{top} is in no layer of tests/test_layering.py")


def thead_imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("thead.") or name == "thead":
                yield node.lineno, tuple(name.split(".")[1:])


@pytest.mark.slow
def test_every_import_points_down_the_layers():
    pkg = ROOT / "thead"
    wrong, seen = [], 0
    for path in sorted(pkg.rglob("*.py")):
        rel = path.relative_to(pkg).parts
        if rel == ("__init__.py",):
            continue
        here = layer_of(rel)
        for line, target in thead_imports(path):
            if not target:  # "import thead" / "from thead import __version__"
                continue
            seen += 1
            if layer_of(target) > here:
                wrong.append(f"{'/'.join(rel)}:{line} imports thead.{'.'.join(target)}")
    assert seen > 300
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_layers_cover_every_top_level_module():
    tops = {p.name.removesuffix(".py") for p in (ROOT / "thead").iterdir()
            if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())}
    named = set().union(*LAYERS)
    assert tops <= named, f"not in a layer: {sorted(tops - named)}"
