"""``make bench``: run every benchmark, print its table, and write ``reports/bench.json``."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

from tests.benchmarks import monitor, pipeline, pr_workflow, service, shadow, team
from tests.support import ROOT

OUTPUT = ROOT / "reports" / "bench.json"


SUITES = {"pipeline": pipeline.run, "service": service.run, "shadow": shadow.run, "pr_workflow": pr_workflow.run,
          "monitor": monitor.run, "team": team.run}  # fmt: skip
if (ROOT / "tests" / "template").is_dir():  # the template's repository (an adopted project has no template to copy)
    from tests.template import bench_adoption

    SUITES["adoption"] = bench_adoption.run


def main() -> int:
    """``python -m tests.benchmarks [SUITE ...]``: the named suites of SUITES, or all."""
    chosen = sys.argv[1:] or list(SUITES)
    # Running some suites keeps the other suites' last figures.
    results: dict[str, object] = json.loads(OUTPUT.read_text()) if OUTPUT.is_file() else {}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        for name in chosen:
            results[name] = SUITES[name](Path(scratch) / name)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")
    return 0


sys.exit(main())
