"""Production monitoring: the drift report on the prediction log, and the issue that tracks drift."""
