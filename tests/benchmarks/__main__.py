"""``make bench``: run every benchmark, print its table, and write ``reports/bench.json``."""

from __future__ import annotations

import json
import os
import platform
import sys

from tests.benchmarks import pipeline
from tests.support import ROOT

OUTPUT = ROOT / "reports" / "bench.json"


def main() -> int:
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "pipeline": pipeline.run(),
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")
    return 0


sys.exit(main())
