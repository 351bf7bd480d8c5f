"""The per-item stages behind the CLI; each ``run_*`` takes inputs (media, folders or a manifest) and an output
folder and returns a ``StageResult``. Importable from notebooks exactly as the CLI uses them."""
