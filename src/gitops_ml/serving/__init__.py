"""The BentoML service, and everything it runs: the Bento ships this folder and nothing else of the package."""
