"""JSON Schemas of the manifest kinds, generated from the pydantic models (``thead manifest schema``)."""

from __future__ import annotations

import json
from pathlib import Path

from thead.manifest.io import atomic_write_text
from thead.manifest.models import KINDS, SCHEMA_VERSION, manifest_model


def schema_for(kind: str) -> dict:
    s = manifest_model(kind).model_json_schema()
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["$id"] = f"thead/{kind}/{SCHEMA_VERSION}"
    s["description"] = KINDS[kind].description
    return s


def export_schemas(folder: Path) -> list[Path]:
    folder = Path(folder)
    out = []
    for kind in KINDS:
        p = folder / f"{kind}.schema.json"
        atomic_write_text(p, json.dumps(schema_for(kind), indent=1) + "\n")
        out.append(p)
    return out
