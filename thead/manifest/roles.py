"""What a ``thead.frames`` item holds (``FramesMeta.role``): frontal crops, face crops or renders.

One kind serves four producers (frontalize, crop-faces, render-face, postprocess-clahe); the typed role lets a
consumer refuse the wrong frames with one line instead of failing later on a missing output or a wrong size.
"""

from __future__ import annotations

from typing import Optional

from thead.errors import InputError
from thead.manifest.models import FRAME_ROLES

# manifests written before the role existed: their items' operation names the producer
_BY_OPERATION = {"frontalize": "frontal", "crop": "face_crop", "render-face": "render"}
MAKE = {"frontal": "thead frontalize", "face_crop": "thead crop-faces", "render": "thead render-face"}


def frames_role(meta: dict) -> Optional[str]:
    """A ``thead.frames`` item's role (one of ``FRAME_ROLES``) from its meta, or None when it cannot be told
    (frames from outside thead, or CLAHE of plain media)."""
    role = meta.get("role")
    if role in FRAME_ROLES:
        return role
    return _BY_OPERATION.get(str(meta.get("operation")))


def require_role(manifest_path, item, role: str) -> None:
    """Refuse an item whose known role is not ``role`` (items of unknown role pass: the consumer's own checks
    apply).

    Raises:
        InputError: one line naming the item, what it holds, and the command that makes the right frames.
    """
    got = frames_role(item.meta)
    if got is not None and got != role:
        raise InputError(f"{manifest_path}: item {item.id} holds {got.replace('_', ' ')} frames, not "
                         f"{role.replace('_', ' ')} frames; make them with '{MAKE[role]}'")
