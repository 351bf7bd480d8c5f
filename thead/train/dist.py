"""Device choice and DistributedDataParallel under torchrun (RANK / WORLD_SIZE / LOCAL_RANK in the environment).

The same training code runs as one plain process or as N torchrun workers: ``setup()`` starts a process group only
when WORLD_SIZE > 1 (gloo on CPU, nccl on CUDA); ``wrap()`` wraps models in DDP only then; rank 0 alone writes
checkpoints, logs and plots.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from thead.errors import TheadError


@dataclass
class Dist:
    rank: int
    world_size: int
    local_rank: int
    device: "object"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(name: str) -> "object":
    """torch.device for "cpu", "cuda" or "auto". Raises TheadError when CUDA is asked for and absent."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TheadError("--device cuda asked for, but torch sees no CUDA device")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise TheadError(f"unknown device {name!r} (cpu, cuda, cuda:N or auto)")
    return torch.device(name)


def setup(device: str) -> Dist:
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device)
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cuda":  # fixed input sizes in every trainer: let cuDNN pick its fastest kernels (as pix2pixHD)
        torch.backends.cudnn.benchmark = True
    return Dist(rank, world, local, dev)


def wrap(model, d: Dist):
    """DDP-wrap a model when running distributed; otherwise return it unchanged."""
    if d.world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[d.device.index] if d.device.type == "cuda" else None)  # buffers: rank 0's


def teardown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
