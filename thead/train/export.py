"""Weights-only copies of thead checkpoints, for bundling and sharing: ``python -m thead.train.export SRC DST``.

The copy keeps the format, step, models and config (with local file paths dropped) and leaves out the optimizer
and RNG states and the discriminator's image history, which only resuming needs: a fine-tuning run (``--finetune``)
reads nothing else. It loads with ``torch.load(..., weights_only=True)`` like every thead checkpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PATH_KEYS = ("manifest", "audio_manifest", "au_manifest", "finetuned_from")
RESUME_ONLY = ("history",)  # extra state only resuming reads (FLNet's image history for D: ~10 MB)


def export_weights(src: Path, dst: Path, note: str = "") -> Path:
    """Write ``dst``: ``src`` without optimizer/RNG state and with the config's local paths replaced by their file
    names (``PATH_KEYS``); ``note`` is kept in ``extra["note"]``.

    Raises:
        InputError: ``src`` is not a thead checkpoint.
    """
    from thead.train.checkpoint import load_checkpoint, write_checkpoint_blob

    blob = load_checkpoint(src)
    cfg = dict(blob["config"])
    for k in PATH_KEYS:
        if cfg.get(k):
            cfg[k] = Path(str(cfg[k])).name
    out = {"format": blob["format"], "step": blob["step"], "config": cfg, "models": blob["models"],
           "optimizers": {}, "rng": {},
           "extra": {**{k: v for k, v in blob.get("extra", {}).items() if k not in RESUME_ONLY},
                     **({"note": note} if note else {})}}
    return write_checkpoint_blob(dst, out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--note", default="")
    a = ap.parse_args(argv)
    p = export_weights(a.src, a.dst, a.note)
    print(f"weights -> {p} ({p.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
