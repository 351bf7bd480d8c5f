import numpy as np
import pytest
import torch

from tests.conftest import shared
from thead.errors import InputError
from thead.metrics.syncnet import (CROP, SyncNet, face_boxes, lip_crop, mfcc_windows, score_video, sync_offset)

# syncnet_python's syncnet_v2.model: (key, shape) of every conv and linear weight, in order
SYNCNET_V2 = [
    ("netcnnaud.0.weight", (64, 1, 3, 3)), ("netcnnaud.4.weight", (192, 64, 3, 3)),
    ("netcnnaud.8.weight", (384, 192, 3, 3)), ("netcnnaud.11.weight", (256, 384, 3, 3)),
    ("netcnnaud.14.weight", (256, 256, 3, 3)), ("netcnnaud.18.weight", (512, 256, 5, 4)),
    ("netfcaud.0.weight", (512, 512)), ("netfcaud.3.weight", (1024, 512)),
    ("netcnnlip.0.weight", (96, 3, 5, 7, 7)), ("netcnnlip.4.weight", (256, 96, 1, 5, 5)),
    ("netcnnlip.8.weight", (256, 256, 1, 3, 3)), ("netcnnlip.11.weight", (256, 256, 1, 3, 3)),
    ("netcnnlip.14.weight", (256, 256, 1, 3, 3)), ("netcnnlip.18.weight", (512, 256, 1, 6, 6)),
    ("netfclip.0.weight", (512, 512)), ("netfclip.3.weight", (1024, 512)),
]


@pytest.fixture(scope="module")
def speech_16k():
    from thead.media import load_audio

    return load_audio(shared("audio/video-retalking_audio_1.wav"))[:16000 * 2]


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return SyncNet().eval()


def test_layout_matches_syncnet_v2_and_streams_give_embeddings(net):
    sd = net.state_dict()
    conv_fc = [(k, tuple(v.shape)) for k, v in sd.items() if k.endswith("weight") and v.dim() > 1]
    assert conv_fc == SYNCNET_V2
    assert "netcnnlip.19.running_mean" in sd and "netfcaud.1.running_var" in sd
    with torch.no_grad():
        assert net.audio(torch.randn(3, 1, 13, 20)).shape == (3, 1024)
        assert net.lip(torch.rand(2, 3, 5, CROP, CROP) * 255).shape == (2, 1024)


@pytest.mark.slow
def test_weights_round_trip_and_bad_files(net, tmp_path):
    x = torch.randn(2, 1, 13, 20)
    torch.save(net.state_dict(), tmp_path / "syncnet.model")
    back = SyncNet.from_file(tmp_path / "syncnet.model")
    with torch.no_grad():
        assert torch.equal(back.audio(x), net.audio(x))
    torch.save({f"__S__.{k}": v for k, v in net.state_dict().items()}, tmp_path / "instance.model")
    with torch.no_grad():
        assert torch.equal(SyncNet.from_file(tmp_path / "instance.model").audio(x), net.audio(x))
    torch.save({"netfcaud.0.weight": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a SyncNet state dict"):
        SyncNet.from_file(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not torch")
    with pytest.raises(InputError, match="not a loadable state dict: a text file"):
        SyncNet.from_file(tmp_path / "junk.pt")
    with pytest.raises(InputError, match="not found"):
        SyncNet.from_file(tmp_path / "missing.pt")


@pytest.mark.parametrize("lag", [3, 0, -2])
def test_offset_sign_and_confidence(lag):
    g = torch.Generator().manual_seed(1)
    audio = torch.randn(80, 16, generator=g)
    video = torch.roll(audio, lag, 0) + 0.05 * torch.randn(80, 16, generator=g)  # video t shows audio t - lag
    r = sync_offset(video, audio, vshift=6)
    assert r.offset == lag and r.confidence > 1.0 and len(r.mean_dists) == 13 and r.n_windows == 80
    assert r.min_dist == pytest.approx(min(r.mean_dists))
    r = sync_offset(torch.randn(80, 16, generator=g), audio, vshift=6)  # unrelated streams: little confidence
    assert r.confidence < 0.5


@pytest.mark.slow
def test_mfcc_windows_follow_the_video_frames(speech_16k):
    w = mfcc_windows(speech_16k, 20)
    assert w.shape == (20, 1, 13, 20) and w.dtype == np.float32
    delayed = mfcc_windows(np.concatenate([np.zeros(3 * 640, np.float32), speech_16k]), 23)
    np.testing.assert_allclose(delayed[3:], w, rtol=1e-4, atol=1e-3)  # 3 video frames later = 3 windows later
    assert not np.allclose(w[1:], w[:-1], atol=1e-1)
    with pytest.raises(InputError, match="too short"):
        mfcc_windows(speech_16k[:3000], 20)


@pytest.mark.slow
def test_face_boxes_fill_gaps_and_drop_outliers():
    t = 30
    lm = np.zeros((t, 68, 2))
    lm[:, :, 0] = np.linspace(100, 200, 68)  # box x 100..200, y 50..130: centre (150, 90), half 50
    lm[:, :, 1] = np.linspace(50, 130, 68)
    lm[10] = np.nan
    lm[20] += 300  # one bad detection
    c, h = face_boxes(lm)
    np.testing.assert_allclose(c, np.tile([150.0, 90.0], (t, 1)))
    np.testing.assert_allclose(h, 50.0)
    with pytest.raises(InputError, match="no face"):
        face_boxes(np.full((5, 68, 2), np.nan))


def test_lip_crop_geometry_and_channel_order():
    img = np.zeros((300, 400, 3), np.uint8)
    img[148:153, 198:203] = (255, 0, 0)  # a red dot at the box centre (200, 150)
    out = lip_crop(img, np.array([200.0, 150.0]), 50.0)
    assert out.shape == (CROP, CROP, 3)
    ys, xs = np.nonzero(out[..., 2] > 128)  # red is channel 2 in BGR
    # the centre sits mid-width and 1/2.8 of the way down; grey (110) fills what is outside the frame
    assert abs(xs.mean() - (CROP - 1) / 2) < 1.5 and abs(ys.mean() - CROP / 2.8) < 1.5
    assert out[..., 0].max() < 128
    edge = lip_crop(img, np.array([5.0, 5.0]), 50.0)
    assert (edge[0, 0] == 110).all()


@pytest.mark.slow
def test_score_video_on_a_real_clip(net, short_clips):
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import FrameReader

    clip = short_clips / "a.mp4"
    reader = FrameReader(clip)
    lm = LandmarkExtractor().video(reader).landmarks
    r = score_video(net, clip, lm, reader.fps, batch=8)
    # 1.2 s: 30 frames at 25 fps, 30 x 640 audio samples: syncnet_python compares 30 - 5 windows
    assert r.n_windows == 25 and -15 <= r.offset <= 15 and len(r.mean_dists) == 31
    assert np.isfinite(r.mean_dists).all() and r.confidence >= 0
    with pytest.raises(InputError, match="no audio"):
        score_video(net, short_clips / "c.mp4", lm, reader.fps)
