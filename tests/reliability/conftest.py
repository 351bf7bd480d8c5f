"""Fixtures of the reliability corpus (issue 10): small real inputs and hand-made (hostile) manifests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EXAMPLES


@pytest.fixture(scope="session")
def landmarks_manifest(tmp_path_factory) -> Path:
    """A real thead.landmarks manifest of one bundled portrait (computed once, copied by the tests that edit it)."""
    from thead.stages import landmarks

    d = tmp_path_factory.mktemp("lmk")
    res = landmarks.run([EXAMPLES / "portraits" / "SadTalker_sad1.png"], d / "lmk", progress=False)
    assert res.n_done == 1
    return res.manifest_path


def hostile_copy(src_manifest: Path, dst_dir: Path, **item_changes) -> Path:
    """A copy of a one-item manifest (with its files) in ``dst_dir``, the item's fields replaced."""
    shutil.copytree(src_manifest.parent, dst_dir)
    m = json.loads((dst_dir / "manifest.json").read_text())
    m["items"][0].update(item_changes)
    (dst_dir / "manifest.json").write_text(json.dumps(m))
    return dst_dir / "manifest.json"


def tree(folder: Path) -> dict[str, float]:
    """Every path under ``folder`` with its mtime (to show nothing changed)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def write_openface_csv(path: Path, rows: list[list[str]]) -> Path:
    header = ["frame", " timestamp", " success", " AU01_r", " AU12_r", " AU45_r"]
    path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    return path


__all__ = ["hostile_copy", "tree", "write_openface_csv", "np"]
