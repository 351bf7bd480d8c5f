"""Writes that never leave a half-written file: every output goes to a temporary sibling name
(``.<stem>.<pid>.tmp<suffix>``) and is renamed into place when complete. The lowest layer of thead (no thead
imports): media, face, metrics, manifests and the runner all write through it."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any


def tmp_path(path: Path) -> Path:
    """A temporary sibling of ``path`` that keeps its suffix (so ffmpeg/np/PIL pick the right format)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


_TMP_RE = re.compile(r"^\..+\.(\d+)\.tmp(\.[^/]*)?$")  # what tmp_path() names: .<stem>.<pid>.tmp<suffix>


def remove_stale_tmp(folder: Path) -> list[Path]:
    """Delete temporary files/folders (``.<stem>.<pid>.tmp<suffix>``) left in ``folder`` by killed processes.

    Only those whose writing process no longer runs are removed, so concurrent shard runs sharing a folder are
    safe. Returns what was removed.
    """
    import shutil

    removed = []
    for p in Path(folder).glob(".*.tmp*"):
        m = _TMP_RE.match(p.name)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:
            alive = True
        if not alive:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class atomic_folder:
    """``with atomic_folder(final) as tmp:`` fill ``tmp``; on success it replaces ``final``, on error it is removed."""

    def __init__(self, final: Path):
        self.final = Path(final)
        self.tmp = tmp_path(self.final)

    def __enter__(self) -> Path:
        import shutil

        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        import shutil

        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.final.exists():
            shutil.rmtree(self.final)
        os.replace(self.tmp, self.final)


def atomic_save_npz(path: Path, **arrays: Any) -> None:
    """``np.savez_compressed`` to a temporary name, then rename into place."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)


def atomic_save_npy(path: Path, array: Any) -> None:
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)
