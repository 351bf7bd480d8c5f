"""GATH synthesis: a portrait plus AU coefficients -> the same face with that expression (paper sections 3, 5.4).

Pipeline per source image: dlib landmarks -> Hassner frontalization to 100x100 (the training crops' geometry) ->
G(x_src, e) for every requested coefficient vector -> optional CLAHE (section 4.2) -> optional paste-back: the
100x100 result is warped back through the frontalization's own pixel correspondences (scattered linear
interpolation of the inverse map over the visible face) and blended into the original picture with a feathered
mask.
"""

from __future__ import annotations

import functools

from pathlib import Path
from typing import Any, Optional

import numpy as np

from thead.declare import check_settings, defaults
from thead.errors import NoFaceError
from thead.manifest.paths import item_path
from thead.runner import safe_id
from thead.systems.gath.config import BN_STATS, SynthesizeGathConfig

_D = defaults(SynthesizeGathConfig)


class GathGenerator:
    """A trained generator from a ``train gath`` checkpoint, ready for inference (eval mode).

    ``bn_stats`` picks the statistics a BatchNorm generator normalizes with at synthesis: ``"running"`` (PyTorch's
    eval mode: the running means and variances gathered over training batches) or ``"input"`` (each synthesized
    image normalized by its own statistics, the running ones left untouched: pix2pix's test-time batch
    normalization with a batch of one, Isola et al. 2017 section 3.3). Why ``"input"`` exists: a portrait unlike
    the training crops (a studio picture on white) falls outside the running statistics, and eval mode then shifts
    its colours (the 100-step demo model: mean RGB +23/-45/-39 in eval mode, +3/-7/-6 with its own statistics;
    issue 13 note). Each target is then synthesized alone, so no output depends on what else is in its batch.
    ``"input"`` is the default since the 60-minute bench: the same checkpoint showed magenta casts on most held-out
    portraits with the running statistics and far fewer with its own (``bench/results/gath_cpu_60min_bnstats_*``).
    An InstanceNorm generator is unaffected by either.

    Raises:
        ValueError: ``bn_stats`` not one of the two.
    """

    def __init__(self, checkpoint: Path, device: str = _D["device"], bn_stats: str = _D["bn_stats"]):
        from thead.systems.gath.model import Generator
        from thead.train.checkpoint import load_system_checkpoint

        if bn_stats not in BN_STATS:  # before the checkpoint is read
            raise ValueError(f"bn_stats must be one of {BN_STATS}, got {bn_stats!r}")
        blob, cfg, self.device = load_system_checkpoint(checkpoint, "gath", device)
        # checkpoints from before the upsample / warp / norm options used the paper's transposed convs, no warp
        # and BatchNorm
        basis = blob["models"]["G"].get("flow_basis") if cfg.get("warp", "none") == "3dmm" else None
        self.G = Generator(int(cfg["n_au"]), int(cfg["width"]), cfg.get("upsample", "transposed"),
                           cfg.get("output", "direct"), basis, cfg.get("g_norm", "batch"))
        self.G.load_state_dict(blob["models"]["G"])
        self.bn_stats = bn_stats
        self.G.eval().to(self.device)
        if bn_stats == "input":
            import torch.nn as nn

            for m in self.G.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.train()  # batch statistics of the input ...
                    m.momentum = 0.0  # ... while the running ones stay as trained
        self.n_au = int(cfg["n_au"])
        self.step = int(blob["step"])
        self.variant = cfg.get("variant", "gath")

    def coefficient_names(self) -> list[str]:
        """Names of the generator's AU coefficients: ICT blendshape names when the lengths match, else c0, c1, ..."""
        from thead.face.facemodel import load_face_model

        model = load_face_model()
        return model.exp_names if self.n_au == model.k_exp else [f"c{i}" for i in range(self.n_au)]

    @property
    def warps(self) -> bool:
        """True when the generator warps by the 3DMM expression flow and so needs the source's coefficients."""
        return self.G.warps

    def __call__(self, face: np.ndarray, coeffs: np.ndarray, source: np.ndarray | None = None,
                 batch: int = 64) -> np.ndarray:
        """face: (100, 100, 3) uint8; coeffs: (T, A) in [0, 1]; source: the face's own coefficients, (A,) or
        (T, A) (one per target: see ``calibrated_source``), required when ``warps`` -> (T, 100, 100, 3) uint8.

        Raises:
            ValueError: a warping generator without ``source``.
        """
        import torch

        from thead.train.images import to_model_range, to_uint8

        x = to_model_range(torch.from_numpy(face).permute(2, 0, 1)[None]).to(self.device)
        coeffs = np.asarray(coeffs, np.float32)
        if self.bn_stats == "input":
            batch = 1
        if self.G.warps:
            if source is None:
                raise ValueError("this generator warps: pass the face's own coefficients (source)")
            src = np.array(np.broadcast_to(np.asarray(source, np.float32), coeffs.shape))  # writable
        outs = []
        with torch.no_grad():
            code = None if self.G.warps else self.G.encode(x)
            for i in range(0, len(coeffs), batch):
                e = torch.from_numpy(coeffs[i:i + batch]).to(self.device)
                xb = x.expand(len(e), -1, -1, -1)
                if self.G.warps:
                    y = self.G(xb, e, torch.from_numpy(src[i:i + batch]).to(self.device))
                else:
                    y = self.G.decode(code.expand(len(e), -1, -1, -1), e, xb)
                outs.append(to_uint8(y))
        return np.concatenate(outs)

    def warp_only(self, face: np.ndarray, target: np.ndarray, source: np.ndarray) -> np.ndarray:
        """The 3DMM flow alone (no network): (100, 100, 3) uint8 moved from ``source`` to ``target`` (A,)."""
        import torch

        from thead.train.images import to_model_range, to_uint8

        x = to_model_range(torch.from_numpy(face).permute(2, 0, 1)[None]).to(self.device)
        with torch.no_grad():
            t = torch.from_numpy(np.asarray(target, np.float32)[None]).to(self.device)
            s = torch.from_numpy(np.asarray(source, np.float32)[None]).to(self.device)
            return to_uint8(self.G.warp(x, t, s))[0]


def calibrated_source(G: GathGenerator, face: np.ndarray, source: np.ndarray, target: np.ndarray, measure,
                      steps: int = 1) -> np.ndarray:
    """Closed-loop correction of the flow for one target vector (analysis by synthesis; thead's, not GATH's).

    The flow moves the pixels the 3DMM says, but the face the crop is re-measured as (dlib's landmarks on the
    warped pixels, the ICT fit) lands short of the target: lip corners drawn by bilinear sampling, landmarks
    that favour a closed mouth. Each step warps, measures (``measure``: crop -> (A,) or None), and adds the
    miss to the source's coefficients, ``e_src <- e_src + (measured - e_tgt)``, so the next warp goes as much
    further as it fell short. Measured on the bundled portraits with the flow alone (``bench/quality_gath.py``
    uses other pictures): one step took the AU12+25+26 drop under ``--au zeros`` from 0.55 to 0.71 and the
    AU12 gain under ``AU12_r=3`` from 0.71 to 1.03 (0-5 scale). Returns the corrected (A,) source vector.
    """
    e = np.asarray(source, np.float32).copy()
    target = np.asarray(target, np.float32)
    for _ in range(steps):
        got = measure(G.warp_only(face, target, e))
        if got is None:
            break
        e = e + (np.asarray(got, np.float32) - target)
    return e


class PasteBack:
    """Warp 100x100 frontal results back into the source picture (inverse of one frontalization) and blend them in
    seamlessly along the face (``thead.face.paste.FaceBlender``: face-hull mask from the picture's landmarks,
    colour matched, Laplacian pyramid) where the frontal view saw the face."""

    def __init__(self, image_shape: tuple[int, int], mapx: np.ndarray, mapy: np.ndarray, weight: np.ndarray,
                 landmarks: np.ndarray):
        import cv2
        from scipy.interpolate import griddata

        from thead.face.paste import FaceBlender

        h, w = image_shape
        size = mapx.shape[0]
        ok = (mapx >= 0) & (mapy >= 0) & (mapx <= w - 1) & (mapy <= h - 1) & (weight < 0.5)
        ok = cv2.erode(ok.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)  # keep away from the rim
        if ok.sum() < 50:
            raise NoFaceError("paste-back: too little of the face is visible to paste into")
        rr, cc = np.nonzero(ok)
        pts = np.stack([mapx[ok], mapy[ok]], 1)
        x0, y0 = np.floor(pts.min(0)).astype(int)
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
        gx, gy = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))
        col = griddata(pts, cc.astype(np.float32), (gx, gy), method="linear")
        row = griddata(pts, rr.astype(np.float32), (gx, gy), method="linear")
        inside = np.isfinite(col) & np.isfinite(row)
        self.box = (x0, y0, x1, y1)
        self.mapc = np.where(inside, col, -1).astype(np.float32)
        self.mapr = np.where(inside, row, -1).astype(np.float32)
        m = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        self.valid = np.zeros((h, w), bool)
        self.valid[y0:y1, x0:x1] = m
        self.landmarks = np.asarray(landmarks, np.float64)
        self.blender = FaceBlender((h, w), smoothing=0.0)
        self.size = size

    def __call__(self, image: np.ndarray, face: np.ndarray) -> np.ndarray:
        """image: (H, W, 3) uint8 original; face: (100, 100, 3) uint8 synthesized -> (H, W, 3) uint8."""
        import cv2

        x0, y0, x1, y1 = self.box
        full = image.copy()
        full[y0:y1, x0:x1] = cv2.remap(face, self.mapc, self.mapr, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return self.blender(image, full, self.landmarks, self.valid)


@functools.cache  # one per worker process
def _parts(checkpoint: str, device: str, bn_stats: str):
    """(generator, 100 px frontalizer, landmark extractor) for synthesis."""
    from thead.face.facemodel import load_face_model
    from thead.face.frontalize import Frontalizer
    from thead.face.landmarks import LandmarkExtractor

    return GathGenerator(Path(checkpoint), device, bn_stats), Frontalizer(load_face_model(), 100), LandmarkExtractor()


@functools.cache  # one per worker process (and extractor)
def _image_aus(extractor):
    from thead.metrics.au import ImageAUs

    return ImageAUs(extractor)


def process(work, out_dir: Path, cfg: dict) -> tuple[dict[str, Path], dict[str, Any]]:
    """Synthesize every requested expression for one source portrait (runner process function)."""
    from thead.face.au import AU_COLUMNS, au_from_blendshapes
    from thead.face.facemodel import load_face_model
    from thead.media import VideoWriter, read_image, write_image
    from thead.postprocess import clahe
    from thead.systems.gath.au_spec import parse_au

    G, front, ex = _parts(str(cfg["checkpoint"]), cfg["device"], cfg.get("bn_stats", _D["bn_stats"]))
    seqs = parse_au(cfg["au"], G.coefficient_names())
    img = read_image(work.source)
    res = ex.image(img)
    if not res.detected[0]:
        raise NoFaceError(f"{work.source.name}: no face found")
    face, weight, mapx, mapy = front(img, res.landmarks[0], return_map=True)
    e_src, measure = None, None
    if G.warps:  # the crop's own coefficients, measured by thead's AU chain (the one the GATH bench scores with)

        measure = _image_aus(ex).expression
        e_src = measure(face)
        if e_src is None:  # the crop is too small / odd for dlib: fit the picture's own landmarks instead
            from thead.face.fit import FitConfig, fit_landmarks

            e_src = fit_landmarks(load_face_model(), res.landmarks[:1],
                                  FitConfig(iters=300, iters_rigid=80)).expression[0]

    def synth(coeffs, refine: int) -> np.ndarray:
        if not G.warps:
            return G(face, coeffs)
        src = (np.stack([calibrated_source(G, face, e_src, c, measure, refine) for c in coeffs]) if refine
               else e_src)
        return G(face, coeffs, src)

    paste = PasteBack(img.shape[:2], mapx, mapy, weight, res.landmarks[0]) if cfg["paste_back"] else None
    outputs: dict[str, Path] = {"frontal": write_image(item_path(out_dir, work.id, ".frontal.png"), face)}
    meta: dict[str, Any] = dict(checkpoint_step=G.step, variant=G.variant, au=cfg["au"], n_faces=res.n_faces,
                                postprocess=cfg["postprocess"], warp=G.warps)
    if e_src is not None:
        meta["source_au"] = {k: round(float(v), 3) for k, v in zip(AU_COLUMNS, au_from_blendshapes(
            e_src[None], load_face_model().exp_names)[0]) if v >= 0.5}
    if cfg.get("sweep"):
        from thead.systems.gath.au_spec import parse_sweep

        label, coeffs, values = parse_sweep(cfg["sweep"], G.coefficient_names())
        outputs["sweep"] = write_image(item_path(out_dir, work.id, f".{safe_id(label)}.png"),
                                       sweep_strip(face, synth(coeffs, cfg["refine"]), values))
    for seq in seqs:
        frames = synth(seq.coeffs, 0 if seq.is_sequence else cfg["refine"])
        post = np.stack([clahe(f) for f in frames]) if cfg["postprocess"] == "clahe" else frames
        tag = f"{work.id}.{safe_id(seq.label)}" if len(seqs) > 1 or seq.is_sequence else work.id
        if seq.is_sequence:
            off = _audio_offset(seq)
            with VideoWriter(item_path(out_dir, tag, ".mp4"), seq.fps, audio_from=seq.audio_from,
                             audio_offset_s=off) as vw:
                for f in post:
                    vw.write(f)
            outputs[f"video:{seq.label}" if len(seqs) > 1 else "video"] = vw.path
            if paste is not None:
                with VideoWriter(item_path(out_dir, tag, ".pasted.mp4"), seq.fps, audio_from=seq.audio_from,
                                 audio_offset_s=off) as vw:
                    for f in post:
                        vw.write(paste(img, f))
                outputs[f"pasted_video:{seq.label}" if len(seqs) > 1 else "pasted_video"] = vw.path
            meta.update(n_frames=len(frames), fps=seq.fps, audio=seq.audio_from is not None)
            continue
        key = (lambda k: f"{k}:{seq.label}") if len(seqs) > 1 else (lambda k: k)
        outputs[key("image")] = write_image(item_path(out_dir, tag, ".png"), post[0])
        row = [face, frames[0]] + ([post[0]] if cfg["postprocess"] == "clahe" else [clahe(frames[0])])
        outputs[key("compare")] = write_image(item_path(out_dir, tag, ".compare.png"), np.concatenate(row, 1))
        if paste is not None:
            outputs[key("pasted")] = write_image(item_path(out_dir, tag, ".pasted.png"), paste(img, post[0]))
    return outputs, meta


def sweep_strip(face: np.ndarray, frames: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Input crop then one tile per intensity, each labelled with its value: (100, 100 * (N + 1), 3) uint8."""
    import cv2

    tiles = [face]
    for f, v in zip(frames, values):
        t = np.ascontiguousarray(f).copy()
        cv2.putText(t, f"{v:.1f}", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(t)
    return np.concatenate(tiles, 1)


def run(sources: list[Path], out_dir: Path, checkpoint: Path, au: str = _D["au"], paste_back: bool = _D["paste_back"],
        postprocess: str = _D["postprocess"], device: str = _D["device"], sweep: Optional[str] = _D["au_sweep"],
        refine: int = _D["refine"], bn_stats: str = _D["bn_stats"], workers: int = 1, shard=None,
        progress: bool = True, debug: bool = False, argv=None, executor=None):
    """``thead synthesize gath``: every source portrait with the expression(s) of ``au``.

    Outputs per source: ``<id>.frontal.png`` (the 100x100 input), ``<id>.png`` + ``<id>.compare.png`` (source |
    synthesis | CLAHE) for a single vector, ``<id>.<AU>_sweep.png`` (input | one tile per intensity) with
    ``sweep``, ``<id>.mp4`` (with the driving video's audio when known) for a
    sequence, and ``<id>.pasted.png/.mp4`` with ``paste_back``. Manifest kind: ``thead.synthesis``.

    A generator trained with ``--warp 3dmm`` needs the portrait's own coefficients: the 3DMM is fitted to the
    frontal crop (``thead.metrics.au.ImageAUs.expression``), and for still targets (not sequences, where it would
    cost a fit per frame) ``refine`` closed-loop steps correct the flow (``calibrated_source``; 0 turns it off).
    ``bn_stats``: ``"running"`` or ``"input"``, the statistics a BatchNorm generator normalizes with
    (``GathGenerator``).

    Raises:
        InputError: bad ``au`` (checked once, before any source is processed), checkpoint, ``refine`` < 0 or
            ``bn_stats``.
    """
    from thead.runner import discover, run_stage
    from thead.systems.gath.au_spec import parse_au

    check_settings(SynthesizeGathConfig, au=au, paste_back=paste_back, postprocess=postprocess, device=device,
                   sweep=sweep, refine=refine, bn_stats=bn_stats)  # the declared bounds and choices
    names = GathGenerator(checkpoint, device).coefficient_names()
    parse_au(au, names)  # fail on a bad --au / --au-sweep before any work
    if sweep:
        from thead.systems.gath.au_spec import parse_sweep

        parse_sweep(sweep, names)
    items, up = discover(sources, media=("image",))
    cfg = dict(checkpoint=str(Path(checkpoint).resolve()), au=au, paste_back=paste_back, postprocess=postprocess,
               device=device, sweep=sweep, refine=int(refine), bn_stats=bn_stats)
    return run_stage("synthesize gath", "thead.synthesis", process, items, out_dir, cfg, workers, shard, up,
                     progress, debug, argv, executor=executor)


def _audio_offset(seq) -> float:
    """Where the driving video's frame 0 falls in its own audio (non-zero when its video stream starts late)."""
    from thead.media import FrameReader, media_type

    if seq.audio_from is None or media_type(seq.audio_from) != "video":
        return 0.0
    return FrameReader(seq.audio_from, fps=seq.fps).offset_s
