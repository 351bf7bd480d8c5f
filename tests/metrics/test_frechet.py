import numpy as np
import pytest
import torch

from thead.errors import InputError
from thead.metrics.frechet import frechet_bootstrap_sd, frechet_distance
from thead.metrics.inception import FIDInceptionV3, inception_features
from thead.metrics.landmarks import LandmarkFinder, landmark_distance


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 6))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.5, 0, 0, 3.0])
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), rel=1e-6)  # equal covariances
    # 1-D Gaussians: (mu1 - mu2)^2 + (s1 - s2)^2
    x, y = rng.normal(0, 1, (5000, 1)), rng.normal(0, 1, (5000, 1))
    y = (y - y.mean()) / y.std(ddof=1) * 3 + 2
    x = (x - x.mean()) / x.std(ddof=1)
    assert frechet_distance(x, y) == pytest.approx(4.0 + 4.0, rel=1e-4)
    with pytest.raises(InputError):
        frechet_distance(a[:1], a)
    with pytest.raises(InputError):
        frechet_distance(a, a[:, :3])


def test_frechet_distance_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 128)), rng.normal(size=(6, 128)) + 0.5
    d = frechet_distance(a, b)
    assert np.isfinite(d) and d > 0


def test_frechet_bootstrap_sd_shrinks_with_more_samples():
    """The sampling noise of a Fréchet distance: repeatable for a seed, larger for 40 samples than for 400 drawn
    from the same two Gaussians, and refused where the distance is."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8)) + 0.3
    few = frechet_bootstrap_sd(a[:40], b[:40], n=60)
    many = frechet_bootstrap_sd(a, b, n=60)
    assert few == frechet_bootstrap_sd(a[:40], b[:40], n=60)
    assert few > 2 * many > 0
    with pytest.raises(InputError):
        frechet_bootstrap_sd(a[:1], b)


@pytest.mark.slow
def test_inception_loads_pytorch_fid_layout(tmp_path):
    torch.manual_seed(0)
    net = FIDInceptionV3()
    sd = net.state_dict()
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in sd and sd["fc.weight"].shape == (1008, 2048)
    torch.save(sd, tmp_path / "pt_inception.pth")
    loaded = FIDInceptionV3.from_file(tmp_path / "pt_inception.pth")
    imgs = np.random.default_rng(0).integers(0, 255, (3, 64, 64, 3), dtype=np.uint8)
    f = inception_features(loaded, imgs)
    assert f.shape == (3, 2048) and (f >= 0).all()
    net.eval()
    with torch.no_grad():
        ref = net(torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255).numpy()
    np.testing.assert_allclose(f, ref, rtol=1e-4, atol=1e-5)
    del sd["Mixed_5b.branch1x1.conv.weight"]
    torch.save(sd, tmp_path / "broken.pth")
    with pytest.raises(InputError, match="Inception state dict"):
        FIDInceptionV3.from_file(tmp_path / "broken.pth")
    with pytest.raises(InputError, match="not found"):
        FIDInceptionV3.from_file(tmp_path / "missing.pth")


@pytest.mark.slow
def test_landmark_distance_and_finder_on_a_real_crop(happy):
    from thead.face.crop import crops_for_clip
    from thead.face.landmarks import LandmarkExtractor
    from thead.media import read_image

    t = np.zeros((2, 68, 2))
    f = t.copy()
    f[0, :, 0] = 3.0
    f[1, :34, 1] = 4.0
    assert landmark_distance(f, t).tolist() == [3.0, 2.0]
    img = read_image(happy)
    lmk = LandmarkExtractor().image(img).landmarks[0]
    (c,) = crops_for_clip(lmk[None], 128)
    found = LandmarkFinder()(c.image(img))  # 128 px crop, upscaled for dlib, mapped back
    assert landmark_distance(found[None], c.points(lmk)[None])[0] < 2.5
