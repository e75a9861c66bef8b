"""The team's servers, run for real (``make team-stack``): S3 refuses what S3 refuses, and MLflow keeps runs in
PostgreSQL and artifacts on S3 and answers only tokens and signed-in users."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from gitops_ml.team import stack
from gitops_ml.team.stack import Stack

# Real servers, act or dvc repro: left out by make test-fast.
pytestmark = pytest.mark.integration


def s3_client(team: Stack, access_key_id: str, secret_access_key: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=team.s3.endpoint,
        region_name=stack.REGION,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
    )


def error_code(call: Any, **kwargs: Any) -> str:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    return str(refused.value.response["Error"]["Code"])


def test_the_store_lets_each_key_do_only_what_its_policy_says(team: Stack) -> None:
    keys = team.s3.keys
    writer = s3_client(team, keys["dvc-write"].access_key_id, keys["dvc-write"].secret_access_key)
    reader = s3_client(team, keys["dvc-read"].access_key_id, keys["dvc-read"].secret_access_key)
    object_key = f"{stack.DVC_PREFIX}/files/md5/00/policy-probe"
    writer.put_object(Bucket=stack.DATA_BUCKET, Key=object_key, Body=b"data")
    assert reader.get_object(Bucket=stack.DATA_BUCKET, Key=object_key)["Body"].read() == b"data"
    listed = reader.list_objects_v2(Bucket=stack.DATA_BUCKET, Prefix=f"{stack.DVC_PREFIX}/")
    assert object_key in {item["Key"] for item in listed["Contents"]}

    # What a pull request's key must not do, and keys S3 does not know or cannot verify.
    assert error_code(reader.put_object, Bucket=stack.DATA_BUCKET, Key=object_key, Body=b"x") == "AccessDenied"
    assert error_code(writer.delete_object, Bucket=stack.DATA_BUCKET, Key=object_key) == "AccessDenied"
    assert error_code(writer.list_objects_v2, Bucket=stack.ARTIFACT_BUCKET) == "AccessDenied"
    unknown = s3_client(team, "AKIAUNKNOWN000000000", "secret")
    assert error_code(unknown.list_objects_v2, Bucket=stack.DATA_BUCKET, Prefix="dvc/") == "InvalidAccessKeyId"
    forged = s3_client(team, keys["dvc-read"].access_key_id, "not-its-secret")
    assert error_code(forged.list_objects_v2, Bucket=stack.DATA_BUCKET, Prefix="dvc/") == "SignatureDoesNotMatch"


def test_the_tracking_server_keeps_runs_in_postgres_and_artifacts_on_s3(
    team: Stack, mlflow_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import psycopg
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_experiment("team-stack-test")
    with mlflow.start_run() as run:
        mlflow.log_metric("roc_auc", 0.97)
        mlflow.log_text("logged through the server", "notes/probe.txt")

    keys = team.s3.keys["mlflow"]
    artifacts = s3_client(team, keys.access_key_id, keys.secret_access_key)
    listed = artifacts.list_objects_v2(Bucket=stack.ARTIFACT_BUCKET, Prefix=f"{stack.ARTIFACT_PREFIX}/")
    [stored] = [
        item["Key"]
        for item in listed["Contents"]
        if item["Key"].endswith(f"{run.info.run_id}/artifacts/notes/probe.txt")
    ]
    body = artifacts.get_object(Bucket=stack.ARTIFACT_BUCKET, Key=stored)["Body"].read()
    assert body == b"logged through the server"
    with psycopg.connect(team.database_uri, password=team.database_password) as db:
        row = db.execute("SELECT status FROM runs WHERE run_uuid = %s", (run.info.run_id,)).fetchone()
    assert row == ("FINISHED",)

    # Without the token, or with another one, the server answers 401, saying why; MLflow's client stops at once.
    for token in ("", "not-a-token-of-this-server"):
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        with pytest.raises(MlflowException, match="401") as refused:
            mlflow.get_run(run.info.run_id)
        expected = "You are not authenticated" if not token else "The bearer token is not one of this server's"
        assert expected in str(refused.value)


def test_people_sign_in_with_a_password_and_tokens_act_as_their_user(team: Stack) -> None:
    def search(authorization: str) -> int:
        request = urllib.request.Request(
            f"{team.tracking.url}/api/2.0/mlflow/experiments/search?max_results=1",
            headers={"Authorization": authorization} if authorization else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                json.loads(response.read())
                return int(response.status)
        except urllib.error.HTTPError as refused:
            return refused.code

    admin = base64.b64encode(f"admin:{team.tracking.admin_password}".encode()).decode()
    wrong = base64.b64encode(b"admin:not-the-password").decode()
    assert search(f"Basic {admin}") == 200
    assert search(f"Basic {wrong}") == 401
    assert search(f"Bearer {team.tracking.token}") == 200
    assert search("") == 401


def test_make_team_stack_says_how_to_use_it_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "stack"
    with (tmp_path / "out.log").open("w") as out:
        command = [sys.executable, "-m", "gitops_ml", "team-stack", "--dir", str(folder)]
        running = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (folder / "env").is_file() and running.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        env = dict(re.findall(r"^export (\w+)=(.*)$", (folder / "env").read_text(), re.M))
        tracking = {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD"}
        store = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION"}
        assert set(env) == tracking | store
        assert (folder / "env").stat().st_mode & 0o077 == 0  # keys and a token: the user's only
        request = urllib.request.Request(
            f"{env['MLFLOW_TRACKING_URI']}/api/2.0/mlflow/experiments/search?max_results=1",
            headers={"Authorization": f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        second = subprocess.run(command, capture_output=True, text=True, timeout=60)  # same folder, same ports' data
        assert second.returncode == 1
        assert f"a stack runs in {folder} already (pid {running.pid})" in second.stderr
    finally:
        running.send_signal(signal.SIGTERM)
        running.wait(timeout=60)
    output = (tmp_path / "out.log").read_text()
    assert running.returncode == 0 and output.rstrip().endswith("team-stack: stopped"), output
    assert f"dvc remote add --local -d team {stack.DVC_REMOTE}" in output
    assert not (folder / "env").exists()
