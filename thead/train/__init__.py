"""Training-loop pieces shared by every system: checkpoints (weights-only loadable), resume with RNG state,
JSONL logs with loss plots, device choice and DistributedDataParallel under torchrun."""
