"""Fréchet distance between two sets of feature vectors (Heusel et al. 2017): the 2-Wasserstein distance between
Gaussians fitted to them, ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

FID is this distance on Inception-v3 pool3 features (``thead.metrics.inception``); thead also reports it on dlib
face-descriptor embeddings under its own name, "FD-dlib", which needs no downloaded weights.
"""

from __future__ import annotations

import numpy as np

from thead.errors import InputError


def _feature_sets(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a`` (n, D) and ``b`` (m, D) as float64, n, m >= 2; InputError otherwise."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InputError(f"feature sets must be (n, D) and (m, D), got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise InputError("a Fréchet distance needs at least 2 vectors per set")
    return a, b


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance of feature sets ``a`` (n, D) and ``b`` (m, D), n, m >= 2.

    As pytorch-fid does, when the product of covariances is singular an ``eps`` multiple of the identity is added
    to both; tiny imaginary parts of the matrix square root (numerical error) are dropped.

    Raises:
        InputError: fewer than 2 vectors in a set, or mismatched dimensions.
    """
    import warnings

    from scipy import linalg

    a, b = _feature_sets(a, b)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # singular products are expected with few samples; handled below
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1.dot(s2))
        if not np.isfinite(covmean).all():
            off = np.eye(len(s1)) * eps
            covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(max(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean), 0.0))


def frechet_bootstrap_sd(a: np.ndarray, b: np.ndarray, n: int = 100, seed: int = 0) -> float:
    """Standard deviation of ``frechet_distance(a, b)`` over ``n`` bootstrap resamples of both sets (each resampled
    with replacement to its own size; Efron's bootstrap). With few samples per set (a clip's 40 held-back frames in
    128-D) the distance moves by this much from the choice of frames alone, so two rows closer than about twice it
    are not ordered by the metric. Same inputs and errors as ``frechet_distance``; ``seed`` makes it repeatable."""
    a, b = _feature_sets(a, b)
    rng = np.random.default_rng(seed)
    return float(np.std([frechet_distance(a[rng.integers(0, len(a), len(a))], b[rng.integers(0, len(b), len(b))])
                         for _ in range(n)]))
