"""thead: composable stages for talking-head face synthesis research.

The command line (``thead``) is a thin layer over this package; every stage is an importable function
(``thead.stages``) reading and writing file manifests (``thead.manifest``).
"""

__version__ = "0.1.0"
