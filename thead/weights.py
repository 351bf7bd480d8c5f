"""Loading weight files as data, never as code: ``torch.load(..., weights_only=True)`` on the CPU, with errors in
thead's own words (torch's message suggests ``weights_only=False``, which would run code from the file). Third-party
state dicts (VGG16, Inception, SyncNet) load through ``load_weights_into``; thead's own checkpoints through
``thead.train.checkpoint.load_checkpoint``, which uses ``describe_load_error`` from here. A low layer: metrics and
face networks load their weights without depending on the trainers."""

from __future__ import annotations

from pathlib import Path

from thead.errors import InputError


def describe_load_error(path: Path, e: BaseException) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in one line of our own words (torch's message suggests
    ``weights_only=False``, which would run code from the file: never pass that advice on)."""
    import zipfile

    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as err:
        return f"cannot read it ({err.strerror})"
    if not head:
        return "empty file (0 bytes)"
    if zipfile.is_zipfile(path):
        msg = str(e)
        if "weights_only" in msg or "Unsupported global" in msg or "GLOBAL" in msg:
            return ("it holds pickled Python objects besides tensors, which a weights-only load refuses (nothing in "
                    "it was run)")
        return "a damaged or truncated torch file"
    if head[:1] == b"\x80":
        return "a pickle file, not a torch checkpoint (refused; nothing in it was run)"
    try:
        head.decode("utf-8")
        return "a text file, not a torch checkpoint"
    except UnicodeDecodeError:
        return "not a torch checkpoint (unknown binary format)"


def load_weights_file(path: Path, option: str) -> dict:
    """A third-party state dict (VGG16, Inception, SyncNet ...) given by the user, loaded with ``weights_only=True``
    on the CPU; errors name the command-line ``option`` (e.g. "--vgg-weights").

    Raises:
        InputError: missing file, not loadable as weights-only data, or not a dict.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{option} {path}: file not found")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, EOFError ...
        raise InputError(f"{option} {path}: not a loadable state dict: {describe_load_error(path, e)}") from None
    if not isinstance(sd, dict):
        raise InputError(f"{option} {path}: not a state dict")
    return sd


def load_weights_into(net, path: Path, option: str, what: str, prepare=None):
    """``net`` (a torch module) with the state dict of ``path`` (``load_weights_file``; ``prepare`` may rename its
    keys first), in eval mode and frozen.

    Raises:
        InputError: as ``load_weights_file``, or keys/shapes that do not match ("{option} {path}: not {what} ...").
    """
    sd = load_weights_file(path, option)
    if prepare is not None:
        sd = prepare(sd)
    try:
        net.load_state_dict(sd)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise InputError(f"{option} {path}: not {what} ({str(e).splitlines()[0][:160]})") from None
    return net.eval().requires_grad_(False)
