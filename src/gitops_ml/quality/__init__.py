"""How good a model is: its metrics, a comparison against a baseline, and the plots. Used by the pipeline,
the report and the release alike."""
