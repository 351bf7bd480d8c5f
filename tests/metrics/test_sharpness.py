import pytest
import cv2

from thead.media import read_image
from thead.metrics.sharpness import cpbd


def test_cpbd_ranks_a_blurred_portrait_below_the_original(happy):
    img = read_image(happy)
    sharp = cpbd(img)
    soft = cpbd(cv2.GaussianBlur(img, (0, 0), 1.0))
    blurred = cpbd(cv2.GaussianBlur(img, (0, 0), 2.5))
    assert 0 < sharp <= 1 and sharp > soft >= blurred


@pytest.mark.slow
def test_edge_widths_equal_the_cpbd_packages_loop_on_real_frames(happy, clip25):
    """thead's vectorized Marziliano widths are the package's own matrix, so CPBD is the package's figure."""
    import numpy as np

    from thead.media import FrameReader
    from thead.metrics.sharpness import _import_cpbd, edge_widths

    c = _import_cpbd()
    frames = [read_image(happy)] + [rgb for i, _, rgb in FrameReader(clip25, max_frames=2)]
    for rgb in frames + [cv2.GaussianBlur(frames[0], (0, 0), 2.0)]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
        edges = c.sobel(gray)
        ours = edge_widths(edges, gray)
        assert np.count_nonzero(ours) > 100
        np.testing.assert_array_equal(ours, c.marziliano_method(edges, gray))
        assert cpbd(rgb) == float(c.compute(gray))
