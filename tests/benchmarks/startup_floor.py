"""The start-up floor: a BentoML service that only imports what loading the model imports.

``make bench`` times it to ``/readyz`` beside our Bento, so our start-up reads against the cost
of BentoML's two processes plus scikit-learn's import on this machine, which service code cannot
go below. Run as ``bentoml serve tests.benchmarks.startup_floor:StartupFloor``.
"""

from __future__ import annotations

import bentoml


@bentoml.service(workers=1)
class StartupFloor:
    def __init__(self) -> None:
        # What unpickling the default pipeline (logistic regression) imports; pandas comes with scikit-learn.
        import sklearn.compose
        import sklearn.impute
        import sklearn.linear_model
        import sklearn.pipeline
        import sklearn.preprocessing  # noqa: F401

    @bentoml.api
    def ping(self) -> str:
        return "pong"
