import numpy as np
import pytest

from thead.systems.facial.windows import WINDOW, stitch, window_slice, window_starts


@pytest.mark.parametrize("n", [1, 20, 127, 128, 129, 254, 255, 256, 1000])
def test_stitching_covers_every_frame_exactly_once(n):
    starts = window_starts(n)
    assert starts[0] == 0 and all(b - a == WINDOW - 1 for a, b in zip(starts, starts[1:]))
    frames = np.arange(n)[:, None]
    pieces = [window_slice(frames, s) for s in starts]
    assert all(len(p) == WINDOW for p in pieces)  # short audio and the last window are padded
    out = stitch(pieces, starts, n)
    assert out[:, 0].tolist() == list(range(n))
    for a, b in zip(pieces, pieces[1:]):
        assert a[-1, 0] == b[0, 0]  # each window starts where the previous one ended (its seed)


def test_padding_repeats_the_last_row():
    x = np.arange(5)[:, None]
    assert window_slice(x, 3, 4)[:, 0].tolist() == [3, 4, 4, 4]
    with pytest.raises(ValueError):
        window_starts(0)
