"""Pydantic models of thead's file manifests.

A manifest is one JSON file::

    {"kind": "thead.landmarks", "schema_version": "1.0",
     "producer": {"stage", "thead_version", "argv", "config"},
     "conventions": {...}, "upstream": "../landmarks/manifest.json",
     "items": [{"id", "status", "error", "source", "outputs": {...}, "meta": {...}}]}

Every path inside (``source``, ``upstream``, ``outputs``) is POSIX and relative to the folder holding the
manifest. Arrays live in ``.npy``/``.npz`` files beside it, never inline; ``meta`` holds sizes, rates and
summaries. Each kind has typed ``outputs``/``meta`` models (below); JSON Schemas generated from them live in
``manifests/`` (``thead manifest schema``).
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from thead.manifest.paths import ID_PATTERN

SCHEMA_VERSION = "1.1"  # 1.1: item ids restricted to ID_PATTERN, items carry a resume fingerprint
Status = Literal["done", "failed", "skipped"]


class Producer(BaseModel):
    """What wrote the manifest: stage name, thead version, full command line and resolved config."""

    model_config = ConfigDict(extra="forbid")
    stage: str
    thead_version: str
    argv: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)


class _Open(BaseModel):
    # Newer minor versions may add fields; readers of the same major keep them.
    model_config = ConfigDict(extra="allow")


class MediaMeta(_Open):
    """Facts about the input medium shared by every kind."""

    media_type: Optional[Literal["video", "image", "audio"]] = None
    width: Optional[int] = Field(None, description="frame width, pixels")
    height: Optional[int] = Field(None, description="frame height, pixels")
    fps: Optional[float] = Field(None, description="constant frame rate of the decoded stream, frames/s")
    n_frames: Optional[int] = None
    duration_s: Optional[float] = None
    has_audio: Optional[bool] = None
    note: Optional[str] = Field(None, description="something the user should know (e.g. several faces seen)")


# ---- thead.landmarks -------------------------------------------------------------------------------------------
class LandmarksOutputs(_Open):
    landmarks: Optional[str] = Field(
        None,
        description="npz: landmarks (T,68,2) float32 px (NaN where no face), boxes (T,4) float32 x0,y0,x1,y1 px, "
        "detected (T,) bool, tracked (T,) bool, interpolated (T,) bool, score (T,) float32, timestamps_s (T,) float64",
    )
    preview: Optional[str] = Field(None, description="landmark overlay (MP4 for videos, PNG for images)")


class LandmarksMeta(MediaMeta):
    detector: Optional[str] = None
    detected_fraction: Optional[float] = Field(None, description="fraction of frames with a face, 0-1")
    n_faces: Optional[int] = Field(None, description="faces seen on the first frame with a face (images: all)")
    n_redetections: Optional[int] = None


# ---- thead.3dmm -----------------------------------------------------------------------------------------------
class FitOutputs(_Open):
    params: Optional[str] = Field(
        None,
        description="npz: identity (K_id,), expression (T,K_exp), rotation (T,3) rad (pitch,yaw,roll), "
        "translation (T,2) px, scale (T,) px/model-unit, reproj_err_px (T,), reproj_err_iod (T,), valid (T,) bool",
    )
    preview: Optional[str] = Field(None, description="3DMM mesh overlay (MP4 / PNG)")


class FitMeta(MediaMeta):
    face_model: Optional[str] = None
    k_id: Optional[int] = None
    k_exp: Optional[int] = None
    exp_names: Optional[list[str]] = None
    reproj_err_px_median: Optional[float] = None
    reproj_err_iod_median: Optional[float] = Field(None, description="median per-frame error / inter-ocular distance")
    reproj_err_iod_p95: Optional[float] = None


# ---- thead.au -------------------------------------------------------------------------------------------------
class AUOutputs(_Open):
    au: Optional[str] = Field(None, description="npz: au (T,A) float32 AUxx_r intensities 0-5, names (A,), "
                              "timestamps_s (T,), success (T,) bool -- what consumers read (thead.face.au)")
    csv: Optional[str] = Field(None, description="OpenFace-style CSV export: frame, timestamp, success, "
                               "AU01_r..AU45_r (0-5, 2 decimals)")
    expression: Optional[str] = Field(None, description="npy (T,K) float32 in [0,1]: raw expression coefficients")
    plot: Optional[str] = Field(None, description="PNG of AU curves over time")


class AUMeta(MediaMeta):
    au_names: Optional[list[str]] = None
    from_openface: Optional[bool] = None
    blinks: Optional[int] = Field(None, description="runs of AU45 above 1.0, at most 1 s long (blink count)")


# ---- thead.frames ---------------------------------------------------------------------------------------------
class FramesOutputs(_Open):
    image: Optional[str] = Field(None, description="PNG (single image input)")
    frames: Optional[str] = Field(None, description="folder of PNGs 000000.png ... (video input)")
    video: Optional[str] = Field(None, description="MP4 of the frames (video input), with the source audio")
    preview: Optional[str] = Field(None, description="contact sheet / before-after PNG")
    landmarks: Optional[str] = Field(
        None,
        description="npz (face crops): landmarks (T,68,2) float32 px in crop coordinates (NaN without a face), "
        "valid (T,) bool, mouth_openness (T,) px, crop_center (T,2) source px, crop_side source px",
    )
    renders: Optional[str] = Field(None, description="FACIAL: folder of RGBA PNGs, 3DMM render (RGB) + eye attention "
                                   "map (alpha, 32 + 223 x blink in the eye regions, 0 elsewhere), one per frame")
    reference: Optional[str] = Field(None, description="FACIAL: npz with identity, albedo (V,3), crop centre/side/"
                                     "size, per-frame pose in crop px, parameters and their normalisation")


FRAME_ROLES = ("frontal", "face_crop", "render")


class FramesMeta(MediaMeta):
    operation: Optional[str] = None
    role: Optional[Literal["frontal", "face_crop", "render"]] = Field(
        None, description="what the frames are: frontal (frontalize: GATH's 100 px crops), face_crop (crop-faces: "
        "FLNet's crops with landmarks), render (render-face: FACIAL's 3DMM renders); postprocess-clahe keeps its "
        "input's role. Older manifests: inferred from operation (thead.manifest.roles)")
    identity: Optional[str] = Field(None, description="person shown (items sharing it are one identity)")


# ---- thead.audio ----------------------------------------------------------------------------------------------
class AudioOutputs(_Open):
    features: Optional[str] = Field(None, description="npy (T,D) float32: one row per video frame (row t at t/fps)")
    windows: Optional[str] = Field(None, description="npy (T,16,D) float32: rows t-8..t+7 per frame, edges repeated "
                                   "(older runs only: FACIAL cuts its windows from the features)")
    plot: Optional[str] = Field(None, description="PNG of the features over time")


class AudioMeta(MediaMeta):
    feature_kind: Optional[Literal["mfcc", "deepspeech", "phones", "mfcc+phones"]] = None
    dim: Optional[int] = Field(None, description="D: 39 for mfcc, 29 for deepspeech, 40 for phones, 79 for "
                               "mfcc+phones")
    sample_rate: Optional[int] = Field(None, description="Hz the audio was decoded at")
    real_time_factor: Optional[float] = Field(None, description="processing time / audio duration")


# ---- thead.bank -----------------------------------------------------------------------------------------------
class BankOutputs(_Open):
    images: Optional[str] = Field(None, description="folder of the N bank face crops 0.png ... (N-1).png")
    landmarks: Optional[str] = Field(
        None, description="npz: landmarks (N,68,2) float32 crop px, mouth_openness (N,) px, frames (N,) source frame "
        "indices (-1 for still images)")
    preview: Optional[str] = Field(None, description="PNG: the bank images with their landmarks and mouth openness")


class BankMeta(_Open):
    bank_size: Optional[int] = None
    size: Optional[int] = Field(None, description="crop side, pixels")
    identity: Optional[str] = None
    source_items: Optional[list[str]] = None
    frame_range: Optional[list[float]] = Field(None, description="fraction [start, end) of each clip used")


# ---- thead.checkpoint -----------------------------------------------------------------------------------------
class CheckpointOutputs(_Open):
    checkpoint: Optional[str] = Field(None, description="torch checkpoint, loadable with weights_only=True")
    log: Optional[str] = Field(None, description="JSONL training log")
    plot: Optional[str] = Field(None, description="loss plot PNG")


class CheckpointMeta(_Open):
    step: Optional[int] = None
    system: Optional[str] = None


# ---- thead.synthesis ------------------------------------------------------------------------------------------
class SynthesisOutputs(_Open):
    image: Optional[str] = Field(None, description="synthesized PNG (one coefficient vector)")
    video: Optional[str] = Field(None, description="synthesized MP4 (a sequence), with the driving audio if known")
    pasted: Optional[str] = Field(None, description="the result pasted back into the source picture (PNG) or the "
                                  "reference video (MP4)")
    compare: Optional[str] = Field(None, description="side-by-side PNG: input | synthesis | CLAHE")
    masks: Optional[str] = Field(None, description="FLNet: MP4 per frame of the bank, its selection masks M_w, the "
                                 "warped image I_w, the appearance image I_a, the merge mask V and the output")
    preview: Optional[str] = Field(None, description="PNG contact sheet of a few frames of the masks view")


class SynthesisMeta(MediaMeta):
    variant: Optional[str] = None
    checkpoint_step: Optional[int] = None
    au: Optional[str] = None


class CorpusOutputs(_Open):
    """A corpus manifest lists media; it has no outputs."""


class CorpusMeta(MediaMeta):
    corpus: Optional[str] = Field(None, description="the recipe (thead prepare CORPUS)")
    identity: Optional[str] = Field(None, description="the person, from the corpus's layout")
    split: Optional[Literal["train", "val", "test"]] = None
    emotion: Optional[str] = None
    intensity: Optional[str | int] = Field(None, description="emotion intensity in the corpus's own terms")
    size_bytes: Optional[int] = None


class Item(BaseModel):
    """One input's record. ``outputs`` paths are relative to the manifest's folder."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(..., pattern=ID_PATTERN, description="file-name-safe item name (letters, digits, '.', '_', '-')")
    status: Status
    error: Optional[str] = None
    source: Optional[str] = Field(None, description="the input medium, relative to the manifest")
    outputs: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
    fingerprint: Optional[str] = Field(None, description="hash of the source's and upstream files' path, size and "
                                       "mtime and of the stage config; a rerun reuses the item only when it matches")


class Manifest(BaseModel):
    """A manifest of any kind; ``KINDS`` gives each kind's typed outputs and meta."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    schema_version: str = SCHEMA_VERSION
    producer: Producer
    conventions: dict[str, str] = Field(default_factory=dict)
    upstream: Optional[str] = Field(None, description="manifest this one was made from, relative path")
    items: list[Item] = Field(default_factory=list)


class KindSpec(BaseModel):
    kind: str
    description: str
    outputs: type[BaseModel]
    meta: type[BaseModel]
    required_outputs: tuple[str, ...]
    conventions: dict[str, str] = Field(default_factory=dict)


_LMK_CONV = {
    "landmarks": "ibug/Multi-PIE 68 points in dlib order, 0-based; (x, y) pixels, origin top-left of the frame, "
    "0-based pixel centres",
    "boxes": "x0, y0, x1, y1 pixels",
    "time": "frame i is at timestamps_s[i] (constant rate fps after resampling)",
}

KINDS: dict[str, KindSpec] = {
    "thead.landmarks": KindSpec(
        kind="thead.landmarks",
        description="68-point facial landmarks per frame of a video or image (one subject per clip)",
        outputs=LandmarksOutputs,
        meta=LandmarksMeta,
        required_outputs=("landmarks",),
        conventions=_LMK_CONV,
    ),
    "thead.3dmm": KindSpec(
        kind="thead.3dmm",
        description="3DMM fit: identity shared by the clip, per-frame expression, rotation, translation, scale",
        outputs=FitOutputs,
        meta=FitMeta,
        required_outputs=("params",),
        conventions={
            "camera": "weak perspective: p = scale * (R @ X)[:2] * (1, -1) + translation; X in model units "
            "(ICT: cm; x to the subject's left, y up, z towards the camera); p in pixels (x right, y down)",
            "rotation": "R = Rz(roll) @ Ry(yaw) @ Rx(pitch), radians",
            "expression": "ICT: blendshape weights in [0, 1]; BFM: unbounded coefficients",
        },
    ),
    "thead.au": KindSpec(
        kind="thead.au",
        description="Facial action-unit intensities per frame (OpenFace naming and 0-5 scale)",
        outputs=AUOutputs,
        meta=AUMeta,
        required_outputs=("csv", "expression"),
        conventions={"au": "AUxx_r intensities 0-5 (OpenFace); expression coefficients 0-1"},
    ),
    "thead.checkpoint": KindSpec(
        kind="thead.checkpoint",
        description="A training run: weights + optimizer + step + config + RNG state, its log and loss plot",
        outputs=CheckpointOutputs,
        meta=CheckpointMeta,
        required_outputs=("checkpoint",),
        conventions={"checkpoint": "torch.save of a dict of tensors and plain values; load with weights_only=True"},
    ),
    "thead.corpus": KindSpec(
        kind="thead.corpus",
        description="The media of a published corpus with their labels and split (thead prepare)",
        outputs=CorpusOutputs,
        meta=CorpusMeta,
        required_outputs=(),
        conventions={"source": "each item's source is one medium of the corpus, relative to the manifest"},
    ),
    "thead.synthesis": KindSpec(
        kind="thead.synthesis",
        description="Synthesized faces (PNG / MP4) from a trained system",
        outputs=SynthesisOutputs,
        meta=SynthesisMeta,
        required_outputs=(),
        conventions={"images": "RGB uint8; GATH outputs are 100x100 frontal crops unless pasted back"},
    ),
    "thead.audio": KindSpec(
        kind="thead.audio",
        description="Speech features with one row per video frame (FACIAL cuts its 16-frame windows from them)",
        outputs=AudioOutputs,
        meta=AudioMeta,
        required_outputs=("features",),
        conventions={"time": "row t is the feature at t / fps seconds from the start of the audio",
                     "deepspeech": "log-probabilities over space, a-z, apostrophe, CTC blank (DeepSpeech order)",
                     "mfcc": "13 MFCC (c0 = log energy), 13 deltas, 13 delta-deltas",
                     "phones": "probabilities over silence and the 39 ARPAbet phones (thead.audio.features.PHONES "
                               "order); mfcc+phones: the 39 MFCC columns, then those 40"},
    ),
    "thead.bank": KindSpec(
        kind="thead.bank",
        description="FLNet source image banks: N face crops of one person sorted by mouth openness, with landmarks",
        outputs=BankOutputs,
        meta=BankMeta,
        required_outputs=("images", "landmarks"),
        conventions={"landmarks": _LMK_CONV["landmarks"].replace("of the frame", "of the crop"),
                     "order": "bank image 0 has the most closed mouth, N-1 the most open (FLNet)"},
    ),
    "thead.frames": KindSpec(
        kind="thead.frames",
        description="Processed frames (frontalized crops, CLAHE output) as PNG images or PNG folders",
        outputs=FramesOutputs,
        meta=FramesMeta,
        required_outputs=(),
        conventions={"images": "RGB uint8 PNG"},
    ),
}


def item_model(kind: str) -> type[BaseModel]:
    """A pydantic model of one item of ``kind`` with typed ``outputs`` and ``meta`` (used for schemas/validation)."""
    spec = KINDS[kind]
    from pydantic import create_model

    return create_model(
        f"{kind.split('.')[-1].capitalize()}Item",
        __base__=Item,
        outputs=(spec.outputs, Field(default_factory=spec.outputs)),
        meta=(spec.meta, Field(default_factory=spec.meta)),
    )


def manifest_model(kind: str) -> type[BaseModel]:
    """A pydantic model of a whole manifest of ``kind`` (kind fixed to that literal)."""
    from pydantic import create_model

    return create_model(
        f"{kind.split('.')[-1].capitalize()}Manifest",
        __base__=Manifest,
        kind=(Literal[kind], kind),  # type: ignore[valid-type]
        items=(list[item_model(kind)], Field(default_factory=list)),  # type: ignore[valid-type]
    )
