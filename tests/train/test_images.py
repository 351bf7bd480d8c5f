import numpy as np
import torch

from tests.conftest import EXAMPLES
from thead.media import read_image
from thead.train.images import augment_photometric_shift, to_model_range, to_uint8


def _face():
    import cv2

    img = cv2.resize(read_image(EXAMPLES / "portraits" / "SadTalker_happy1.png"), (100, 100))
    return to_model_range(torch.from_numpy(img).permute(2, 0, 1)[None].repeat(8, 1, 1, 1))


def test_augmentation_shifts_and_jitters_within_range_reproducibly():
    x = _face()
    a = augment_photometric_shift(x, torch.Generator().manual_seed(0))
    b = augment_photometric_shift(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b) and a.min() >= -1 and a.max() <= 1
    assert not torch.equal(a[0], a[1])  # per-sample draws
    # a pure shift: some translation by <= 4 px reproduces the interior exactly
    s = augment_photometric_shift(x, torch.Generator().manual_seed(1), jitter=0.0)
    for i in range(len(x)):
        ok = [torch.equal(s[i, :, 8:-8, 8:-8], x[i, :, 8 - dy:92 - dy, 8 - dx:92 - dx])
              for dy in range(-4, 5) for dx in range(-4, 5)]
        assert sum(ok) == 1
    # brightness / contrast only: same geometry, changed values, still correlated with the input
    j = augment_photometric_shift(x, torch.Generator().manual_seed(2), max_shift=0)
    assert not torch.equal(j, x)
    r = np.corrcoef(to_uint8(j[0]).ravel(), to_uint8(x[0]).ravel())[0, 1]
    assert r > 0.95
