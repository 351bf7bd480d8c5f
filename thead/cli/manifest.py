from __future__ import annotations


import sys
from pathlib import Path
from typing import Optional

import typer

from thead.cli.app import app

manifest_app = typer.Typer(help="Validate, upgrade, merge manifests; export their JSON Schemas.",
                           no_args_is_help=True)
app.add_typer(manifest_app, name="manifest")


@manifest_app.command("validate")
def validate(manifests: list[Path] = typer.Argument(..., help="Manifest files."),
             check_files: bool = typer.Option(True, "--check-files/--no-check-files",
                                              help="Also check that done items' outputs exist.")) -> int:
    """Check schema, kind, version and (by default) output files; exit 1 on any problem."""
    from thead.errors import ManifestError
    from thead.manifest import validate_manifest

    bad = 0
    for m in manifests:
        problems = validate_manifest(m, check_files)
        for p in problems:
            print(f"{m}: {p}", file=sys.stderr)
        bad += bool(problems)
        if not problems:
            print(f"{m}: ok", file=sys.stderr)
    if bad:
        raise ManifestError(f"{bad} manifest(s) invalid")
    return 0


@manifest_app.command("upgrade")
def upgrade(manifest: Path = typer.Argument(...),
            output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write here instead of in place.")
            ) -> int:
    """Rewrite a manifest at the current schema version (reading never rewrites; this does)."""
    from thead.manifest import upgrade_manifest

    print(f"upgraded -> {upgrade_manifest(manifest, output)}", file=sys.stderr)
    return 0


@manifest_app.command("merge")
def merge(manifests: list[Path] = typer.Argument(..., help="Shard manifests of one kind."),
          output: Path = typer.Option(..., "-o", "--output", help="Merged manifest path."),
          where: Optional[list[str]] = typer.Option(None, help="Keep only items whose meta has KEY=VALUE "
                                                    "(repeatable), e.g. --where split=train.")) -> int:
    """Merge shard manifests (from --shard K/N runs, or several corpora) into one."""
    from thead.manifest import merge_manifests
    from thead.manifest.io import parse_where

    m = merge_manifests(manifests, output, parse_where(where or []))
    print(f"merged {len(manifests)} manifests, {len(m.items)} items -> {output}", file=sys.stderr)
    return 0


@manifest_app.command("schema")
def schema(output: Path = typer.Option(Path("manifests"), "-o", "--output", help="Folder for <kind>.schema.json.")
           ) -> int:
    """Export the JSON Schema of every manifest kind."""
    from thead.manifest.schema import export_schemas

    for p in export_schemas(output):
        print(p, file=sys.stderr)
    return 0



