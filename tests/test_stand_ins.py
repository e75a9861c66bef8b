"""The action stand-ins refuse what the pinned actions refuse (run directly with node, as act runs them)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.workflow_runner import STAND_INS, seed_cache


def action(
    name: str, script: str, folder: Path, inputs: dict[str, str], **env: str
) -> subprocess.CompletedProcess[str]:
    """Run one stand-in script as the runner would: inputs as INPUT_*, the step's files under ``folder``."""
    for file in ("output", "state"):
        (folder / file).touch()
    environment = {
        "PATH": os.environ["PATH"], "HOME": str(folder / "home"), "GITHUB_WORKSPACE": str(folder / "workspace"),
        "GITHUB_OUTPUT": str(folder / "output"), "GITHUB_STATE": str(folder / "state"),
        "GITHUB_RUN_ID": "7", "GITHUB_REPOSITORY": "example/gitops-ml", "GITHUB_REF": "refs/pull/3/merge",
        "GITHUB_BASE_REF": "main", "STANDIN_ARTIFACTS": str(folder / "artifacts"),
        "STANDIN_CACHE": str(folder / "caches"),
        **{f"INPUT_{key.upper()}": value for key, value in inputs.items()}, **env,
    }  # fmt: skip
    (folder / "workspace").mkdir(exist_ok=True)
    return subprocess.run(
        ["node", str(STAND_INS / name / script)], env=environment, capture_output=True, text=True, timeout=60
    )


def outputs(folder: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (folder / "output").read_text().splitlines())


def test_upload_leaves_hidden_files_out_and_refuses_a_second_artifact_of_the_same_name(tmp_path: Path) -> None:
    report = tmp_path / "workspace" / "reports"
    (report / ".cache").mkdir(parents=True)
    (report / "report.md").write_text("report")
    (report / ".env").write_text("TOKEN=secret")
    (report / ".cache" / "x").write_text("x")
    inputs = {"name": "pr-report", "path": "reports/"}
    assert action("upload-artifact", "upload.js", tmp_path, inputs).returncode == 0
    assert sorted(p.name for p in (tmp_path / "artifacts" / "7" / "pr-report").rglob("*")) == ["report.md"]

    again = action("upload-artifact", "upload.js", tmp_path, inputs)
    assert again.returncode != 0 and "(409) Conflict: an artifact with this name already exists" in again.stdout
    assert action("upload-artifact", "upload.js", tmp_path, inputs | {"overwrite": "true"}).returncode == 0


def test_download_reads_another_run_only_with_a_token_and_names_a_missing_artifact(tmp_path: Path) -> None:
    stored = tmp_path / "artifacts" / "99" / "pr-report"
    stored.mkdir(parents=True)
    (stored / "report.json").write_text("{}")
    inputs = {"name": "pr-report", "path": str(tmp_path / "out"), "run-id": "99", "repository": "example/gitops-ml"}
    without_token = action("download-artifact", "download.js", tmp_path, inputs)
    assert without_token.returncode != 0  # the current run (7) has no such artifact
    assert "Unable to download artifact(s): Artifact not found for name: pr-report" in without_token.stdout
    with_token = action("download-artifact", "download.js", tmp_path, inputs | {"github-token": "t"})
    assert with_token.returncode == 0 and (tmp_path / "out" / "report.json").is_file()  # directly in path


def test_cache_restores_by_prefix_from_the_base_branch_and_saves_under_the_new_key(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    (saved / "objects").mkdir(parents=True)
    (saved / "objects" / "model").write_text("model")
    seed_cache(tmp_path / "caches", "dvc-abc-1", ".dvc/cache", saved)
    inputs = {"path": ".dvc/cache", "key": "dvc-def-2", "restore-keys": "dvc-def-\ndvc-"}
    restored = action("cache", "restore.js", tmp_path, inputs)
    assert restored.returncode == 0, restored.stdout
    assert outputs(tmp_path) == {"cache-hit": "false"}  # a restore key matched, not the key
    assert (tmp_path / "workspace" / ".dvc" / "cache" / "objects" / "model").read_text() == "model"

    state = dict(line.split("=", 1) for line in (tmp_path / "state").read_text().splitlines())
    env = {f"STATE_{key}": value for key, value in state.items()}
    assert action("cache", "save.js", tmp_path, inputs, **env).returncode == 0
    metas = [json.loads(p.read_text()) for p in (tmp_path / "caches").glob("*/meta.json")]
    assert {(m["key"], m["ref"]) for m in metas} == {
        ("dvc-abc-1", "refs/heads/main"),
        ("dvc-def-2", "refs/pull/3/merge"),
    }


def test_cache_misses_another_path_list_and_rejects_bad_keys(tmp_path: Path) -> None:
    (tmp_path / "saved").mkdir()
    seed_cache(tmp_path / "caches", "uv-linux", "~/.cache/uv", tmp_path / "saved")
    missed = action("cache", "restore.js", tmp_path, {"path": ".dvc/cache", "key": "uv-linux"})
    assert missed.returncode == 0 and outputs(tmp_path) == {}  # cache-hit unset on a miss, as the real one
    bad = action("cache", "restore.js", tmp_path, {"path": ".dvc/cache", "key": "a,b"})
    assert bad.returncode != 0 and "Key Validation Error: a,b cannot contain commas." in bad.stdout
