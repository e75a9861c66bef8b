"""GitOps ML template: a reproducible DVC pipeline from raw table to evaluated model."""

# The one name of the packaged model, the Bento built around it and the service it runs (BentoML's store
# and /metrics use it); the Bento ships this file, so the service reads it from here too.
NAME = "gitops-ml"
