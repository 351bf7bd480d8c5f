"""Helpers shared by the stage modules: chaining plain inputs through upstream stages (per-process model caches are
``functools.cache``d factories in each stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from thead.errors import InputError
from thead.manifest import read_json
from thead.runner import StageResult


def manifest_kind(inputs: list[Path]) -> Optional[str]:
    """The kind of a single manifest input, else None (plain media)."""
    if len(inputs) == 1 and Path(inputs[0]).suffix == ".json":
        return read_json(Path(inputs[0]))["kind"]
    return None


def ensure_upstream(inputs: list[Path], kind: str, out_dir: Path, make: Callable[[Path], StageResult],
                    subdir: str, chain_from: tuple[str, ...] = ()) -> tuple[list[Path], Optional[StageResult]]:
    """Inputs as a manifest of ``kind``: given as one already, or produced by running ``make(out_dir/subdir)`` on
    plain media, on a ``thead.corpus`` manifest (``thead prepare``: media with labels) or on a manifest of an earlier
    kind in ``chain_from``.

    Raises:
        InputError: the upstream run produced no usable item.
    """
    k = manifest_kind(inputs)
    if k == kind:
        return inputs, None
    if k is not None and k not in chain_from and k != "thead.corpus":
        return inputs, None  # let the caller's kind check report the mismatch
    res = make(Path(out_dir) / subdir)
    if res.n_done == 0 and res.n_failed > 0:
        raise InputError(f"every input failed in the {subdir} stage (see {res.manifest_path})")
    return [res.manifest_path], res
