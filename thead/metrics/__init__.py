"""Everything ``thead evaluate`` reports: pixel errors, AU errors, identity similarity, Fréchet distances, LMD,
sharpness; and how an evaluation is written (``metrics.json`` + ``metrics.md``)."""

from __future__ import annotations

from pathlib import Path


def fmt(v, digits: int = 3) -> str:
    """A table cell: ``v`` with ``digits`` decimals, or "n/a" for None and non-finite values."""
    import math

    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def write_metrics(out_dir: Path, result: dict, markdown: str) -> None:
    """``out_dir/metrics.json`` (the result) and ``out_dir/metrics.md`` (its table), each written atomically."""
    import json

    from thead.files import atomic_write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "metrics.json", json.dumps(result, indent=1) + "\n")
    atomic_write_text(out_dir / "metrics.md", markdown)
