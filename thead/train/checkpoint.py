"""Checkpoints as data: nested dicts of tensors and plain Python values, saved with ``torch.save`` and loaded with
``torch.load(..., weights_only=True)`` (no pickled code). Holds model and optimizer state dicts, the step, the
resolved config, and every RNG state needed for an exact resume (torch CPU/CUDA, the data sampler's generator,
numpy, Python ``random``)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.errors import InputError
from thead.weights import describe_load_error, load_weights_file, load_weights_into  # noqa: F401 (re-exported)

CHECKPOINT_FORMAT = "thead.checkpoint/1"


def rng_state(generator=None) -> dict[str, Any]:
    """Every RNG state as tensors / lists (weights_only-safe)."""
    import torch

    np_state = np.random.get_state()
    st = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached": float(np_state[4])},
        "python": [list(x) if isinstance(x, tuple) else x for x in random.getstate()],
    }
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    if generator is not None:
        st["generator"] = generator.get_state()
    return st


def set_rng_state(st: dict[str, Any], generator=None) -> None:
    import torch

    torch.set_rng_state(st["torch"])
    n = st["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = st["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])
    if generator is not None and "generator" in st:
        generator.set_state(st["generator"])


def save_checkpoint(path: Path, *, models: dict, optimizers: dict, step: int, config: dict,
                    generator=None, extra: Optional[dict] = None) -> Path:
    """Atomically write a checkpoint (``<path>`` via a temporary name). Models may be DDP-wrapped."""
    def sd(m):
        return (m.module if hasattr(m, "module") else m).state_dict()

    blob = {
        "format": CHECKPOINT_FORMAT,
        "step": int(step),
        "config": config,
        "models": {k: sd(m) for k, m in models.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "rng": rng_state(generator),
        "extra": extra or {},
    }
    return write_checkpoint_blob(path, blob)


def write_checkpoint_blob(path: Path, blob: dict) -> Path:
    """``torch.save`` of a checkpoint dict to ``path`` through a temporary name in its folder (atomic)."""
    import torch

    from thead.files import tmp_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path, map_location: str = "cpu") -> dict:
    """Load a checkpoint with ``weights_only=True``.

    Raises:
        InputError: missing file, not loadable as weights-only data, or not a thead checkpoint.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError ...
        raise InputError(f"{path}: not a loadable checkpoint: {describe_load_error(path, e)}") from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path}: not a thead checkpoint")
    return blob


def restore(blob: dict, models: dict, optimizers: dict, generator=None) -> int:
    """Load states into (possibly DDP-wrapped) models and optimizers, restore RNG; returns the step."""
    for k, m in models.items():
        (m.module if hasattr(m, "module") else m).load_state_dict(blob["models"][k])
    for k, o in optimizers.items():
        o.load_state_dict(blob["optimizers"][k])
    set_rng_state(blob["rng"], generator)
    return int(blob["step"])


def latest_checkpoint(folder: Path) -> Optional[Path]:
    """``folder/last.pt`` if present (written at every checkpoint), else None."""
    p = Path(folder) / "last.pt"
    return p if p.is_file() else None


def load_system_checkpoint(path: Path, system: str, device: str = "cpu") -> tuple[dict, dict, "object"]:
    """A checkpoint of one system for inference: (blob, its config, the torch device to run on).

    Raises:
        InputError: not loadable, or a checkpoint of another system; TheadError: an unavailable device.
    """
    from thead.train.dist import pick_device

    blob = load_checkpoint(path)
    cfg = blob["config"]
    if cfg.get("system") != system:
        raise InputError(f"{path}: not a {system} checkpoint (system {cfg.get('system')!r})")
    return blob, cfg, pick_device(device)
