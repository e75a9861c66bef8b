"""The template's docs: the figures they show as real output are the example's committed results, and every page
they link exists. (A test of the template repository: an adopted project has its own front page and results.)"""

from __future__ import annotations

import json
import re

from tests.support import ROOT

TEST_METRICS = json.loads((ROOT / "reports" / "evaluation" / "metrics.json").read_text())["test"]


def test_the_quickstart_shows_the_committed_test_metrics() -> None:
    readme = (ROOT / "README.md").read_text()
    [line] = re.findall(r"evaluate: binary, test roc_auc (\S+), average_precision (\S+), f1 (\S+) ", readme)
    assert [float(v) for v in line] == [round(TEST_METRICS[m], 4) for m in ("roc_auc", "average_precision", "f1")]


def test_the_example_release_notes_show_the_committed_test_metrics() -> None:
    releases = (ROOT / "docs" / "releases.md").read_text()
    shown = dict(re.findall(r"^\| (\w+) \| n/a \| ([0-9.]+) \| n/a \|$", releases, flags=re.MULTILINE))
    assert shown.keys() == TEST_METRICS.keys()
    assert {m: float(v) for m, v in shown.items()} == {m: round(v, 4) for m, v in TEST_METRICS.items()}


def test_the_readme_is_a_front_page_whose_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not target.startswith(("http://", "https://", "./")):
                assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} links to missing {target}"
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", readme))
    assert linked == {page.name for page in (ROOT / "docs").glob("*.md")}, "every chapter is linked from the README"


def test_the_team_chapter_shows_the_policy_the_local_store_enforces() -> None:
    from gitops_ml.team.stack import bucket_policy

    chapter = (ROOT / "docs" / "team.md").read_text()
    [shown] = [
        json.loads(block) for block in re.findall(r"```json\n(.*?)```", chapter, re.S) if "s3:GetObject" in block
    ]
    assert shown == bucket_policy("my-team-data", "dvc", write=False)
    added = set(bucket_policy("b", "p", write=True)["Statement"][1]["Action"]) - {"s3:GetObject"}
    assert f"The release's key adds `{sorted(added)[1]}` and `{sorted(added)[0]}`" in chapter
