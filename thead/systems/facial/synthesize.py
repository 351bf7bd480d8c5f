"""``thead synthesize facial`` (FACIAL section 5.1, testing): speech audio + a reference (``render-face`` output of
the person's video) -> a talking video of that person with lip motion, head pose and blinks predicted from the audio.

Pipeline: audio -> features of the kind FACIAL-GAN was trained on (at the reference's frame rate) -> FACIAL-GAN,
windowed, starting from the reference's first frame -> parameters mapped back with the reference's normalisation and
smoothed with a Savitzky-Golay filter (official code; window 5 frames, order 2) -> expression and head-pose means
moved to the reference's (``match_expression``, ``match_pose``; thead's, not the paper's) -> blinks given the
reference's rate, duration and depth (``blinks``: ``fill`` default, ``predicted``, ``raw``;
``thead.systems.facial.blinks``) -> 3DMM renders with the eye attention map (reference identity and albedo, the
reference crop's pixels) -> rendering-to-video network over 2 N_w stacked renders -> MP4 at the reference's frame
rate and crop size with the input audio muxed in, plus a side-by-side MP4 (render | eye attention | output) and a
PNG sheet of a few such frames.

Paste-back (optional; the paper shows crops only): each generated crop goes back into a frame of the reference video
through the inverse of render-face's crop and is blended in seamlessly (``thead.face.paste.FaceBlender``: colour
matched in L*a*b*, Laplacian-pyramid blend, mask and colour smoothed over frames). The region is the union of the
generated head's face hull (from the predicted 3DMM) and the reference frame's own, dilated by ``PASTE_GROW`` of
the face height for hair and neck, so the reference frame's head, at its own pose, does not show around the
generated one, and no rectangle edge shows. The reference frames are played forward, then backward, and so on when
the speech is longer than the reference, so the body and background never jump.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from thead.declare import check_settings, defaults
from thead.errors import InputError
from thead.manifest.paths import item_path
from thead.systems.facial.config import SynthesizeFacialConfig

SAVGOL_WINDOW = 5  # frames (official code)
PASTE_GROW = 0.2  # paste-back region: the faces' hulls dilated by this fraction of the face height (hair, neck)
SAVGOL_ORDER = 2


class RenderToVideo:
    """A trained G^r from a ``train render2video`` checkpoint (eval mode)."""

    def __init__(self, checkpoint: Path, device: str = "cpu"):
        from thead.systems.facial.render2video import make_generator
        from thead.train.checkpoint import load_system_checkpoint

        blob, cfg, self.device = load_system_checkpoint(checkpoint, "render2video", device)
        self.n_w, self.size, self.step = int(cfg["n_w"]), int(cfg["size"]), int(blob["step"])
        self.G = make_generator(cfg.get("arch", "pix2pixhd"), self.n_w, int(cfg["width"]))
        self.G.load_state_dict(blob["models"]["G"])
        self.G.eval().to(self.device)

    def __call__(self, renders: list[np.ndarray], t: int) -> np.ndarray:
        """Frame t from the (H, W, 4) uint8 renders -> (H, W, 3) uint8."""
        return next(self.frames(renders, t, t + 1))

    def frames(self, renders: list[np.ndarray], start: int = 0, stop: Optional[int] = None,
               batch: int = 16) -> Iterator[np.ndarray]:
        """Frames start .. stop - 1 as (H, W, 3) uint8, G^r run on ``batch`` frames at a time."""
        import torch

        from thead.systems.facial.render2video import window_indices
        from thead.train.images import to_model_range, to_uint8

        stop = len(renders) if stop is None else stop
        for b0 in range(start, stop, batch):
            x = np.stack([np.concatenate([renders[i] for i in window_indices(t, self.n_w, len(renders))], -1)
                          for t in range(b0, min(b0 + batch, stop))])
            with torch.no_grad():
                y = self.G(to_model_range(torch.from_numpy(x).permute(0, 3, 1, 2)).to(self.device))
            for k in range(len(y)):
                yield to_uint8(y[k])


def smooth(params: np.ndarray) -> np.ndarray:
    """Savitzky-Golay smoothing along time (T, P) (unchanged when T is shorter than the window)."""
    from scipy.signal import savgol_filter

    if len(params) < SAVGOL_WINDOW:
        return params
    return savgol_filter(params, SAVGOL_WINDOW, SAVGOL_ORDER, axis=0).astype(np.float32)


def match_expression(pred: np.ndarray, ref_params: np.ndarray) -> np.ndarray:
    """Predicted parameters (T, P) with each expression coefficient's mean over the sequence moved to the reference
    video's mean (the motion is kept). Not in FACIAL (issue 11): a FACIAL-GAN fine-tuned for minutes predicts
    coefficients whose averages drift from the person's (e.g. a smile held through the clip), which the
    rendering-to-video network turns into a mouth of another shape; on the cpu-hour bench clip this lowered the mouth
    LMD from 2.81 to 2.62 % IOD. Off with ``match_mean=False`` (``--no-match-mean``)."""
    from thead.systems.facial.params import EXP_START

    out = np.asarray(pred, np.float32).copy()
    e = out[:, EXP_START:]
    out[:, EXP_START:] = e - e.mean(0) + np.asarray(ref_params, np.float32)[:, EXP_START:].mean(0)
    return out


def match_pose(pred: np.ndarray, ref_params: np.ndarray) -> np.ndarray:
    """Predicted parameters (T, P) with the head pose's mean over the sequence (pitch, yaw, roll in rad, scale,
    tx, ty in px: columns 0-5) moved to the reference video's mean; the motion, blink and expression are kept. Not in
    FACIAL (issue 11): like the expressions, a FACIAL-GAN fine-tuned for minutes predicts a head that settles
    elsewhere than the person's (on the cpu-hour bench clip held out of pretraining: a mean yaw 0.10 rad off), which
    turns the mouth in the image and moves the face off the reference's neck for paste-back; moving the mean lowered
    that run's held-out mouth LMD from 1.38x to 1.27x the oracle still mouth. Off with ``match_mean=False``."""
    from thead.systems.facial.params import POSE

    out = np.asarray(pred, np.float32).copy()
    out[:, POSE] = out[:, POSE] - out[:, POSE].mean(0) + np.asarray(ref_params, np.float32)[:, POSE].mean(0)
    return out


def pingpong(t: int, m: int) -> int:
    """Index of output frame t into m reference frames played forward, backward, forward, ... (0 <= result < m)."""
    if m <= 1:
        return 0
    p = t % (2 * (m - 1))
    return p if p < m else 2 * (m - 1) - p


def reference_frames(source: Path, fps: float, n: int) -> Iterator[np.ndarray]:
    """n (H, W, 3) uint8 frames of the reference video at ``fps`` in ``pingpong`` order, memory flat: the frames
    are decoded once, each kept as a PNG in a temporary folder for the backward passes.

    Raises:
        InputError: the video cannot be read or has no frames.
    """
    import tempfile

    import cv2

    from thead.media import FrameReader, read_image

    with tempfile.TemporaryDirectory(prefix="thead-reference-") as tmp:
        m = 0
        for i, _, rgb in FrameReader(source, fps=fps, max_frames=n):
            if not cv2.imwrite(f"{tmp}/{i:06d}.png", rgb[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                raise InputError(f"paste-back: cannot write a temporary frame in {tmp}")
            m = i + 1
            yield rgb
        if m == 0:
            raise InputError(f"{source}: no frames to paste into")
        for t in range(m, n):
            yield read_image(Path(tmp) / f"{pingpong(t, m):06d}.png")


_D = defaults(SynthesizeFacialConfig)


def run(audio: Path, reference: Path, facial_gan: Path, render2video: Path, model_dir: Optional[Path] = None, *,
        out_dir: Path, cfg: SynthesizeFacialConfig, progress: bool = True,
        argv=None) -> Path:
    """``thead synthesize facial`` (``SYNTHESIZE_FACIAL``): ``synthesize`` with the declared settings ``cfg``.

    Raises:
        InputError: what ``synthesize`` raises.
    """
    return synthesize(audio, reference, facial_gan, render2video, out_dir, cfg.reference_item, model_dir, cfg.device,
                      argv, cfg.paste_back, cfg.blinks, cfg.seed, progress, cfg.match_mean)


def synthesize(audio: Path, reference: Path, facial_gan: Path, render2video: Path, out_dir: Path,
               item: Optional[str] = _D["reference_item"], model_dir: Optional[Path] = None,
               device: str = _D["device"], argv=None, paste_back: bool = _D["paste_back"],
               blinks: str = _D["blinks"], seed: int = _D["seed"], progress: bool = False,
               match_mean: bool = _D["match_mean"]) -> Path:
    """Write ``<audio stem>.mp4`` (with the input audio), ``<stem>.render.mp4``, with ``paste_back``
    ``<stem>.pasted.mp4`` (the reference video's size), and a ``thead.synthesis`` manifest.

    Raises:
        InputError: bad audio, a reference of another size than the networks, missing --model for deepspeech, a
            missing reference video for paste-back, an unknown ``blinks`` mode.
    """
    check_settings(SynthesizeFacialConfig, reference_item=item, paste_back=paste_back, blinks=blinks, seed=seed,
                   match_mean=match_mean, device=device)  # the declared choices
    from thead.audio.features import SAMPLE_RATE, DeepSpeechFeatures, audio_features, n_frames_for
    from thead.face.facemodel import load_face_model
    from thead.manifest import Item, ManifestWriter, atomic_save_npy, load_manifest, make_producer
    from thead.face.crop import Crop, CropPaste
    from thead.media import VideoWriter, load_audio, probe_video, write_image
    from thead.viz import contact_sheet, sample_indices
    from thead.runner import safe_id
    from thead.systems.facial.params import EXP_START, EYE, denormalize, normalize
    from thead.systems.facial.predict import FacialGAN
    from thead.systems.facial.render import FaceRenderer, Pose, landmarks_px

    gan = FacialGAN(facial_gan, device)
    r2v = RenderToVideo(render2video, device)
    lm = load_manifest(reference, "thead.frames")
    done = [it for it in lm.done() if "reference" in it.outputs and (item is None or it.id == item)]
    if not done:
        raise InputError(f"{reference}: no render-face reference{f' {item!r}' if item else ''}")
    if len(done) > 1 and item is None:
        raise InputError(f"{reference}: holds {len(done)} references; choose one with --reference-item")
    it = done[0]
    ref = np.load(lm.output(it, "reference"))
    size = int(ref["crop_size"])
    if size != r2v.size:
        raise InputError(f"reference crops are {size} px, the rendering-to-video network was trained at {r2v.size}")
    fps = float(ref["fps"])
    source = lm.source(it)
    if paste_back and (source is None or not source.is_file()):
        raise InputError(f"paste-back: the reference video {source} is not there")
    wav = load_audio(audio, SAMPLE_RATE)
    n = n_frames_for(len(wav) / SAMPLE_RATE, fps)
    ds = DeepSpeechFeatures(model_dir, device) if gan.feature_kind == "deepspeech" and model_dir else None
    if gan.feature_kind == "deepspeech" and ds is None:
        raise InputError("this FACIAL-GAN was trained on deepspeech features: give --model DIR")
    feats = audio_features(wav, fps, n, gan.feature_kind, ds)
    offset, scale = ref["offset"], ref["scale"]
    pred = denormalize(gan(feats, normalize(ref["params"][0], offset, scale)), offset, scale)
    pred = smooth(pred)
    if match_mean:
        pred = match_pose(match_expression(pred, ref["params"]), ref["params"])
    model = load_face_model()
    if blinks != "raw":
        from thead.systems.facial.blinks import blink_style, shape_blinks

        cols = [i for i, nm in enumerate(model.exp_names) if nm in ("eyeBlink_L", "eyeBlink_R")]
        if pred.shape[1] - EXP_START != len(model.exp_names):
            cols = []  # another model's coefficients: only the eye channel
        pred = shape_blinks(pred, fps, blink_style(ref["params"][:, EYE], fps), cols, seed, fill=blinks == "fill")
    renderer = FaceRenderer(model, ref["identity"], ref["albedo"], size, size)
    center, zoom = ref["crop_center"], size / float(ref["crop_side"])
    renders, poses = [], []
    bar = task = None
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]synthesize facial[/]"), TextColumn("{task.description}"), BarColumn(),
                       MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True))
        bar.start()
        task = bar.add_task("3DMM renders", total=n)
    try:
        for p in pred:
            pose = Pose(p[0:3], (p[4:6] - center) * zoom + (size - 1) / 2.0, float(p[3]) * zoom)
            poses.append(pose)
            renders.append(renderer(p[7:], pose, float(np.clip(p[6], 0, 1))))
            if bar is not None:
                bar.advance(task)
    except BaseException:
        if bar is not None:
            bar.stop()
        raise
    if bar is not None:
        bar.update(task, description="frames" + (" + paste-back" if paste_back else ""), completed=0)
    stem = safe_id(Path(audio).stem)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keep = set(sample_indices(n, 8))
    tiles = []
    with contextlib.ExitStack() as stack:
        if bar is not None:
            stack.callback(bar.stop)
        vw = stack.enter_context(VideoWriter(item_path(out_dir, stem, ".mp4"), fps, audio_from=Path(audio)))
        sw = stack.enter_context(VideoWriter(item_path(out_dir, stem, ".render.mp4"), fps, audio_from=Path(audio)))
        if paste_back:
            info = probe_video(source)
            paste = CropPaste(Crop(tuple(center.tolist()), float(ref["crop_side"]), size), (info.height, info.width),
                              grow=PASTE_GROW)
            # the blend region covers the generated head and the reference frame's own (both faces' hulls)
            gen_lm = paste.to_frame(landmarks_px(model, ref["identity"], pred[:, 7:], poses))
            ref_lm = paste.to_frame(ref["landmarks"]) if "landmarks" in ref.files else gen_lm
            pw = stack.enter_context(VideoWriter(item_path(out_dir, stem, ".pasted.mp4"), fps, audio_from=Path(audio)))
            backgrounds = reference_frames(source, fps, n)
            stack.callback(backgrounds.close)  # removes its temporary folder even when stopped early
        for t, frame in enumerate(r2v.frames(renders)):
            vw.write(frame)
            if paste_back:
                pw.write(paste(next(backgrounds), frame, np.stack([gen_lm[t], ref_lm[pingpong(t, len(ref_lm))]])))
            pair = np.concatenate([renders[t][..., :3], np.repeat(renders[t][..., 3:], 3, 2), frame], 1)
            sw.write(pair)
            if t in keep:
                tiles.append(pair)
            if bar is not None:
                bar.advance(task)
    sheet = write_image(item_path(out_dir, stem, ".sheet.png"),
                        contact_sheet(tiles, 2, [f"frame {k}" for k in sorted(keep)]))
    atomic_save_npy(item_path(out_dir, stem, ".params.npy"), pred)
    w = ManifestWriter(out_dir, "thead.synthesis", make_producer("synthesize facial", dict(
        audio=str(audio), reference=str(reference), facial_gan=str(facial_gan), render2video=str(render2video)),
        argv))
    meta: dict[str, Any] = dict(n_frames=n, fps=fps, width=size, height=size, reference=it.id,
                                checkpoint_step=gan.step, feature_kind=gan.feature_kind, audio=True, blinks=blinks,
                                match_mean=match_mean)
    outputs = {"video": w.rel(vw.path), "compare": w.rel(sw.path), "preview": w.rel(sheet),
               "params": w.rel(item_path(out_dir, stem, ".params.npy"))}
    if paste_back:
        outputs["pasted"] = w.rel(pw.path)
    w.add(Item(id=stem, status="done", source=w.rel(Path(audio).resolve()), outputs=outputs, meta=meta))
    w.finish()
    return w.path
