"""The DVC pipeline: one module per stage (``dvc.yaml``), and the restore and reproducibility checks around it."""
