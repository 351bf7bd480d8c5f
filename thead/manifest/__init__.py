"""Typed file manifests: the contract between thead's stages (see ``models`` for the format)."""

from thead.manifest.io import (
    LoadedManifest,
    atomic_folder,
    ManifestWriter,
    atomic_save_npy,
    atomic_save_npz,
    atomic_write_text,
    in_shard,
    load_manifest,
    make_producer,
    merge_manifests,
    parse_shard,
    read_json,
    relpath,
    tmp_path,
    upgrade_manifest,
    validate_manifest,
    write_manifest,
)
from thead.manifest.models import KINDS, SCHEMA_VERSION, Item, Manifest, Producer, manifest_model

__all__ = [
    "KINDS", "SCHEMA_VERSION", "Item", "LoadedManifest", "atomic_folder", "Manifest", "ManifestWriter", "Producer",
    "atomic_save_npy", "atomic_save_npz", "atomic_write_text", "in_shard", "load_manifest", "make_producer",
    "manifest_model", "merge_manifests", "parse_shard", "read_json", "relpath", "tmp_path", "upgrade_manifest",
    "validate_manifest", "write_manifest",
]
