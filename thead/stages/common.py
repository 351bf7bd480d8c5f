"""Helpers shared by the stage modules: chaining plain inputs through upstream stages (per-process model caches are
``functools.cache``d factories in each stage)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from thead.errors import InputError
from thead.manifest import read_json
from thead.runner import StageResult


SHEET_TILES = 24  # frames on a clip's contact sheet


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


def write_face_frames(work, out_dir: Path, cfg: dict, n: int, size: int, transform, suffix: str, label: str,
                      tile=None) -> tuple[Path, Path, Path]:
    """Stream a clip's first ``n`` frames (decoded at the item's rate) through ``transform(i, rgb)`` ->
    (size, size, 3) uint8 (None: a black frame, e.g. no face there) into a PNG folder ``<id>.frames/`` and an MP4
    ``<id><suffix>`` with the source's audio, both written through temporary names, plus a contact sheet
    ``<id>.sheet.png`` of evenly spaced frames (``tile(i, frame)`` draws each; default the frame itself). Memory
    stays flat in the clip's length. Shared by frontalize and crop-faces.

    Returns:
        (frame folder, MP4 path, contact sheet path).
    """
    import numpy as np

    from thead.manifest import atomic_folder
    from thead.manifest.paths import item_path
    from thead.media import FrameReader, VideoWriter, write_image
    from thead.runner import FrameProgress
    from thead.viz import contact_sheet, sample_indices

    folder = item_path(out_dir, work.id, ".frames")
    reader = FrameReader(work.source, fps=work.meta.get("fps"), max_frames=n)
    keep = set(sample_indices(n, SHEET_TILES))
    tiles, labels = [], []
    bar = FrameProgress(cfg, n, label)
    blank = np.zeros((size, size, 3), np.uint8)
    with atomic_folder(folder) as tmp_folder, VideoWriter(
            item_path(out_dir, work.id, suffix), reader.fps,
            audio_offset_s=reader.offset_s, audio_from=work.source if work.meta.get("has_audio") else None) as vw:
        for i, _, rgb in reader:
            out = transform(i, rgb)
            out = blank if out is None else out
            write_image(tmp_folder / f"{i:06d}.png", out)
            vw.write(out)
            if i in keep:
                tiles.append(tile(i, out) if tile is not None else out)
                labels.append(i)
            bar.tick()
    bar.close()
    sheet = write_image(item_path(out_dir, work.id, ".sheet.png"), contact_sheet(tiles, 8, labels))
    return folder, vw.path, sheet
