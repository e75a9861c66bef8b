"""The team's shared services on one machine, as real servers: PostgreSQL, an S3 store and ``mlflow server``.

``make team-stack`` runs them in the foreground (docs/team.md) and the tests start them the same
way. The shape is production's: MLflow keeps its runs, models and users in PostgreSQL and its
artifacts on S3, and answers only signed-in users and bearer tokens (``tracking_auth``); the DVC
remote is an S3 bucket, read by pull requests with a read-only key and written by the release with
its own. Only the pieces differ: Debian's PostgreSQL and moto's S3 server (MinIO where it can be
installed; ``team/docker-compose.yml`` runs that shape with Docker). Nothing here keeps data after
it stops: it is for trying the setup and for the tests, not a server to keep.
"""

from __future__ import annotations

import base64
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_ml.core.errors import PipelineError
from gitops_ml.team.tracking_auth import TOKENS_ENV, token_line

DATA_BUCKET = "gitops-ml-data"  # the DVC remote: s3://gitops-ml-data/dvc
DVC_PREFIX = "dvc"
DVC_REMOTE = f"s3://{DATA_BUCKET}/{DVC_PREFIX}"
ARTIFACT_BUCKET = "gitops-ml-mlflow"  # MLflow's artifacts: s3://gitops-ml-mlflow/artifacts
ARTIFACT_PREFIX = "artifacts"
REGION = "us-east-1"
DATABASE = "mlflow"
TRACKING_USER = "ci"  # the user the tracking token acts as
START_SECONDS = 120
PID_FILE = "team-stack.pid"  # the process that runs the stack in a folder
CLIENT_DOWNLOADS = {"MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false"}  # see Tracking.env
# Telemetry off in every server started here (also set by the Makefile).
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "AWS_EC2_METADATA_DISABLED": "true"}


def bucket_policy(bucket: str, prefix: str, *, write: bool) -> dict[str, Any]:
    """The least a DVC remote (or MLflow's artifact store) under ``s3://bucket/prefix`` needs: list and read;
    with ``write``, also put (multipart uploads included) and abort an upload a failed push left."""
    actions = ["s3:GetObject", *(["s3:PutObject", "s3:AbortMultipartUpload"] if write else [])]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
            },
            {"Effect": "Allow", "Action": actions, "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*"},
        ],
    }


@dataclass
class Server:
    """A server process this module started; ``stop`` ends it and what it started."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for step in reversed(self.cleanup):
            step()


@dataclass(frozen=True)
class Key:
    """An S3 access key: what a job gets as ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``."""

    access_key_id: str
    secret_access_key: str

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


@dataclass(frozen=True)
class S3:
    """The S3 store: its endpoint and one key per role (read the data, write the data, MLflow's artifacts)."""

    server: Server
    keys: dict[str, Key]

    @property
    def endpoint(self) -> str:
        return self.server.url


@dataclass(frozen=True)
class Tracking:
    """The MLflow server: its address, the token that acts as ``TRACKING_USER``, and the admin's password."""

    server: Server
    token: str
    admin_password: str

    @property
    def url(self) -> str:
        return self.server.url

    def env(self) -> dict[str, str]:
        """What a client of this server sets. Downloads go through the server: MLflow's client would otherwise
        fetch artifacts from S3 by presigned URLs, which moto cannot check while it checks signatures (real S3
        can: a client of a server on S3 itself leaves that variable out)."""
        return self.credentials() | CLIENT_DOWNLOADS

    def credentials(self) -> dict[str, str]:
        """The server and its token: what a job gets as secrets."""
        return {"MLFLOW_TRACKING_URI": self.url, "MLFLOW_TRACKING_TOKEN": self.token}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(name: str, command: list[str], log: Path, url: str, ready: Callable[[], bool], **popen: Any) -> Server:
    """Start ``command`` in its own process group; wait until ``ready``, else stop it and say why with its log."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen)
    server = Server(name, url, process, log)
    deadline = time.monotonic() + START_SECONDS
    while not _answers(ready):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise PipelineError(f"{name} did not start ({' '.join(command[:3])} ...); the end of {log}:\n{tail}")
        time.sleep(0.2)
    return server


def _answers(ready: Callable[[], bool]) -> bool:
    try:
        return ready()
    except Exception:  # not up yet, whatever its client raised: _start waits, and shows the log if it never is
        return False


def _get(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return bool(response.status == 200)


def postgres_binary(name: str) -> str:
    """A PostgreSQL server program: on PATH, else where Debian puts it (not on PATH), the newest version."""
    installed = Path("/usr/lib/postgresql").glob(f"*/bin/{name}")
    newest = max(installed, key=lambda path: [int(n) for n in re.findall(r"\d+", path.parts[-3])], default=None)
    found = shutil.which(name) or newest
    if found is None:
        raise PipelineError(f"PostgreSQL's {name} is not installed (Debian, Ubuntu: apt-get install postgresql)")
    return str(found)


def start_postgres(folder: Path) -> tuple[Server, str, str]:
    """A fresh PostgreSQL cluster on a free loopback port with the database ``mlflow``.

    Returns the server, the database URI without its password, and the password (give it to
    clients as ``PGPASSWORD``, not in the URI, where ``ps`` would show it). PostgreSQL refuses to run
    as root: as root, the cluster belongs to the ``postgres`` user, in a folder of its own under /tmp.
    """
    password = secrets.token_urlsafe(16)
    as_root = os.geteuid() == 0
    owner = pwd.getpwnam("postgres" if _user_exists("postgres") else "nobody") if as_root else None
    home = Path(tempfile.mkdtemp(prefix="gitops-ml-postgres-")) if as_root else folder / "postgres"
    shutil.rmtree(home, ignore_errors=True)  # a stack killed before it could clean up
    home.mkdir(parents=True)
    (home / "password").touch(mode=0o600)  # initdb reads it once; it is removed after
    (home / "password").write_text(password)
    run_as: dict[str, Any] = {}
    if owner is not None:
        os.chown(home, owner.pw_uid, owner.pw_gid)
        os.chown(home / "password", owner.pw_uid, owner.pw_gid)
        run_as = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    initdb = [postgres_binary("initdb"), "-D", str(home / "data"), "-U", DATABASE, "--auth=scram-sha-256"]
    initdb += [f"--pwfile={home / 'password'}", "--encoding=UTF8", "--no-sync"]
    done = subprocess.run(initdb, capture_output=True, text=True, cwd=home, **run_as)
    (home / "password").unlink()
    if done.returncode != 0:
        raise PipelineError(f"initdb failed: {(done.stderr or done.stdout).strip()[-600:]}")
    port = free_port()
    command = [postgres_binary("postgres"), "-D", str(home / "data"), "-p", str(port), "-k", str(home)]
    command += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"]
    uri = f"postgresql://{DATABASE}@127.0.0.1:{port}"

    def ready() -> bool:
        import psycopg

        with psycopg.connect(f"{uri}/postgres", password=password, connect_timeout=2, autocommit=True) as db:
            if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                db.execute(f"CREATE DATABASE {DATABASE}")
        return True

    server = _start("PostgreSQL", command, folder / "postgres.log", uri, ready, cwd=home, **run_as)
    server.cleanup.append(lambda: shutil.rmtree(home, ignore_errors=True))
    return server, f"{uri}/{DATABASE}", password


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def start_s3(folder: Path) -> S3:
    """moto's S3 server on a free loopback port: the two buckets, a key per role, then signatures required.

    Keys: ``dvc-read`` lists and reads the DVC remote (pull requests), ``dvc-write`` also writes it
    (the release), ``mlflow`` reads and writes MLflow's artifacts. Each holds the policy of
    ``bucket_policy``, which moto enforces once authentication is on: a request signed by an unknown key,
    a wrong secret or a key without the right is refused (403), as S3 refuses it.
    """
    import boto3  # type: ignore[import-untyped]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    env = os.environ | QUIET | {"TMPDIR": str(folder)}  # large objects spill to files there, not to memory
    server = _start("S3 (moto)", command, folder / "s3.log", url, lambda: _get(f"{url}/moto-api/"), env=env)
    try:
        setup = {"endpoint_url": url, "region_name": REGION, "aws_access_key_id": "setup"}
        setup["aws_secret_access_key"] = "setup"
        s3, iam = boto3.client("s3", **setup), boto3.client("iam", **setup)
        for bucket in (DATA_BUCKET, ARTIFACT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        roles = {
            "dvc-read": bucket_policy(DATA_BUCKET, DVC_PREFIX, write=False),
            "dvc-write": bucket_policy(DATA_BUCKET, DVC_PREFIX, write=True),
            "mlflow": _artifact_policy(),
        }
        keys = {}
        for role, policy in roles.items():
            iam.create_user(UserName=role)
            iam.put_user_policy(UserName=role, PolicyName=role, PolicyDocument=json.dumps(policy))
            key = iam.create_access_key(UserName=role)["AccessKey"]
            keys[role] = Key(key["AccessKeyId"], key["SecretAccessKey"])
        # From now on every request must be signed by one of those keys.
        request = urllib.request.Request(
            f"{url}/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}, method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()
    except BaseException:
        server.stop()
        raise
    return S3(server, keys)


def _artifact_policy() -> dict[str, Any]:
    """MLflow's server reads, writes and deletes (a deleted run's artifacts) under its prefix."""
    policy = bucket_policy(ARTIFACT_BUCKET, ARTIFACT_PREFIX, write=True)
    policy["Statement"][1]["Action"].append("s3:DeleteObject")
    return policy


def start_mlflow(folder: Path, database_uri: str, database_password: str, s3: S3) -> Tracking:
    """``mlflow server`` on a free loopback port: runs in PostgreSQL, artifacts on S3 (served through it),
    MLflow's auth app with bearer tokens (``tracking_auth``) and one token acting as ``TRACKING_USER``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    admin_password = secrets.token_urlsafe(18)
    token = secrets.token_urlsafe(32)
    config = folder / "mlflow-auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = EDIT\n"  # every signed-in user may log runs and register models; MANAGE stays with owners
        f"database_uri = {database_uri}\n"
        "admin_username = admin\n"
        "authorization_function = gitops_ml.team.tracking_auth:authenticate\n"
    )
    tokens = folder / "tracking-tokens"
    tokens.write_text(token_line(TRACKING_USER, token))
    env = os.environ | QUIET | s3.keys["mlflow"].env()
    env |= {
        "PGPASSWORD": database_password,
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # its job runner starts eight more processes
        "MLFLOW_S3_ENDPOINT_URL": s3.endpoint,
        "AWS_DEFAULT_REGION": REGION,
        TOKENS_ENV: str(tokens),
    }
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        env.pop(name, None)
    command = [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1", "--backend-store-uri", database_uri]
    command += ["--artifacts-destination", f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_PREFIX}"]
    server = _start("mlflow server", command, folder / "mlflow.log", url, lambda: _get(f"{url}/health"), env=env)
    try:
        _create_user(url, admin_password, TRACKING_USER)
    except BaseException:
        server.stop()
        raise
    return Tracking(server, token, admin_password)


def _create_user(url: str, admin_password: str, user: str) -> None:
    """A user in MLflow's auth database, for a token to act as (its password is never used)."""
    basic = base64.b64encode(f"admin:{admin_password}".encode()).decode()
    body = json.dumps({"username": user, "password": secrets.token_urlsafe(24)}).encode()
    request = urllib.request.Request(
        f"{url}/api/2.0/mlflow/users/create",
        data=body,
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=30).close()


@dataclass(frozen=True)
class Stack:
    """The three servers, up."""

    s3: S3
    database: Server
    database_uri: str  # without its password: clients give it as PGPASSWORD
    database_password: str
    tracking: Tracking


@contextmanager
def team_stack(folder: Path) -> Iterator[Stack]:
    """PostgreSQL, S3 and the MLflow server on them, stopped (and their data removed) on leaving."""
    folder.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        s3 = start_s3(folder)
        stack.callback(s3.server.stop)
        database, database_uri, password = start_postgres(folder)
        stack.callback(database.stop)
        tracking = start_mlflow(folder, database_uri, password, s3)
        stack.callback(tracking.server.stop)
        yield Stack(s3, database, database_uri, password, tracking)


def env_file(stack: Stack) -> str:
    """What a shell sources to use the stack: the tracking server and its token, the DVC remote's write key and
    endpoint (S3 clients read ``AWS_ENDPOINT_URL_S3``, so ``.dvc/config`` names only the bucket)."""
    values = stack.tracking.env() | stack.s3.keys["dvc-write"].env()
    values |= {"AWS_ENDPOINT_URL_S3": stack.s3.endpoint, "AWS_DEFAULT_REGION": REGION}
    return "".join(f"export {name}={value}\n" for name, value in values.items())


def serve(folder: Path) -> None:
    """Run the stack until Ctrl-C or SIGTERM; write ``folder/env`` for other shells and say how to use it."""
    _claim(folder)
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda number, _: stopped.append(number))
    with team_stack(folder) as stack:
        env = folder / "env"
        env.touch(mode=0o600)
        env.write_text(env_file(stack))
        print(
            "team-stack: PostgreSQL, S3 (moto) and mlflow server are up. Ctrl-C stops them and removes their data.\n"
            f"  MLflow  {stack.tracking.url}  (the UI: user admin, password {stack.tracking.admin_password})\n"
            f"  S3      {stack.s3.endpoint}  (DVC remote {DVC_REMOTE})\n"
            "In another shell, in the project:\n"
            f"  source {env}\n"
            f"  .venv/bin/dvc remote add --local -d team {DVC_REMOTE}\n"
            "  make repro && .venv/bin/dvc push --run-cache",
            flush=True,
        )
        try:
            while not stopped and all(s.process.poll() is None for s in _servers(stack)):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        ended = [s.name for s in _servers(stack) if s.process.poll() is not None]
    env.unlink()  # its keys and token died with the servers
    (folder / PID_FILE).unlink()
    if ended:
        raise PipelineError(f"team-stack: {', '.join(ended)} stopped by itself; see the logs in {folder}")
    print("team-stack: stopped")


def _claim(folder: Path) -> None:
    """Make ``folder`` this process's, or say which stack runs there: two would share one PostgreSQL folder."""
    folder.mkdir(parents=True, exist_ok=True)
    pid_file = folder / PID_FILE
    if pid_file.is_file() and pid_file.read_text().strip().isdigit():
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            pass  # a stack that was killed: its servers went with it or will be replaced
        except PermissionError:
            raise PipelineError(f"team-stack: another user's stack (pid {pid}) runs in {folder}") from None
        else:
            raise PipelineError(f"team-stack: a stack runs in {folder} already (pid {pid}); stop it, or use --dir")
    pid_file.write_text(f"{os.getpid()}\n")


def _servers(stack: Stack) -> list[Server]:
    return [stack.s3.server, stack.database, stack.tracking.server]
