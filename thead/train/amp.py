"""Mixed precision for every trainer (``--amp``): the forward passes and losses run under ``torch.autocast`` in
bfloat16 on the training device.

bfloat16 rather than float16: it keeps float32's exponent range, so no loss scaling (``GradScaler``) is needed and
the adversarial losses cannot underflow; Ampere and later GPUs (A100, H100) run it on their tensor cores. None of the
three papers trains in mixed precision (they predate it or do not say); it is a speed setting for paper-scale runs
(``stages/*.mk reproduce`` turns it on when ``DEVICE`` is CUDA). Backward passes and optimizer steps stay outside
autocast, as torch's AMP recipe asks. On a CPU it works too (torch's CPU autocast) but is usually slower than
float32 there; thead's CPU defaults leave it off.
"""

from __future__ import annotations

import contextlib


def autocast(device, enabled: bool):
    """A context manager: ``torch.autocast(device.type, dtype=torch.bfloat16)`` when ``enabled``, else a no-op.

    Args:
        device: the training ``torch.device`` (or its name).
        enabled: the run's ``amp`` setting.
    """
    if not enabled:
        return contextlib.nullcontext()
    import torch

    kind = torch.device(device).type
    return torch.autocast(kind, dtype=torch.bfloat16)
