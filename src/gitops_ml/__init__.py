"""GitOps ML template: a reproducible DVC pipeline from raw table to evaluated model."""
