import cv2

from thead.media import read_image
from thead.metrics.sharpness import cpbd


def test_cpbd_ranks_a_blurred_portrait_below_the_original(happy):
    img = read_image(happy)
    sharp = cpbd(img)
    soft = cpbd(cv2.GaussianBlur(img, (0, 0), 1.0))
    blurred = cpbd(cv2.GaussianBlur(img, (0, 0), 2.5))
    assert 0 < sharp <= 1 and sharp > soft >= blurred
