"""A real container engine for the release image's test: Docker where a daemon answers, else Podman.

Podman 4.3 (Debian's) runs here as root with runc and lowered limits (``tests/containers.conf``;
its default runtime, crun, cannot start containers on these machines). No registry is reachable, so
the Bento's base image, ``python:3.11-slim``, is stood in for by a local one: Debian bookworm
(debootstrap, minbase) with Python 3.11, pip and the host's CA bundle, imported under that name
once and kept in the engine's store. ``find()`` says why no engine can run the test, for its skip.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

BASE_IMAGE = "docker.io/library/python:3.11-slim"
PODMAN_CONF = Path(__file__).with_name("containers.conf")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class Engine:
    command: str
    env: dict[str, str]  # what the engine's CLI needs set beside the environment

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.command, *args], env=os.environ | self.env, capture_output=True, text=True, timeout=timeout
        )


def find() -> tuple[Engine | None, str]:
    """The engine to use, or None and the reason there is none."""
    if shutil.which("docker"):
        docker = Engine("docker", {})
        if docker.run("info", timeout=30).returncode == 0:
            return docker, ""
    if not shutil.which("podman"):
        return None, "no container engine: no Docker daemon answers and podman is not installed (.ci/run installs it)"
    if os.geteuid() != 0:
        return None, "podman runs containers here only as root (rootless needs user namespaces these machines lack)"
    return Engine("podman", {"CONTAINERS_CONF": str(PODMAN_CONF)}), ""


# One build at a time on a machine (the engine's store is the machine's): the suite starts one early, in the
# background (start_base_image), and the test that needs the image waits here for it.
BUILD_LOCK = Path(tempfile.gettempdir()) / "gitops-ml-base-image.lock"


def start_base_image() -> subprocess.Popen[bytes] | None:
    """Build the base image in the background while other tests run, when an engine lacks it: it takes minutes
    cold (debootstrap from Debian's mirror), mostly waiting on the network, and one test needs it."""
    engine, missing = find()
    if engine is None or missing or engine.run("image", "exists", BASE_IMAGE).returncode == 0:
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "tests.container_engine"], cwd=Path(__file__).parents[1],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def ensure_base_image(engine: Engine, folder: Path) -> str:
    """``python:3.11-slim`` in the engine's store, built from Debian when it cannot be pulled: '', or the tool
    missing to build it (a build that fails raises). Waits for a build already under way."""
    with BUILD_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_base_image(engine, folder)


def _ensure_base_image(engine: Engine, folder: Path) -> str:
    if engine.run("image", "exists", BASE_IMAGE).returncode == 0 or engine.run("pull", BASE_IMAGE).returncode == 0:
        return ""
    if not shutil.which("debootstrap"):
        return f"{BASE_IMAGE} cannot be pulled and debootstrap, which builds a stand-in, is not installed"
    root = folder / "base-root"
    built = subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3.11,python3-pip,ca-certificates", "bookworm", str(root)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if built.returncode != 0:
        raise RuntimeError(
            f"debootstrap could not build the stand-in base image: {built.stdout[-500:]}{built.stderr[-500:]}"
        )
    # As the official image has it: `python` and `pip` on PATH, pip free to install (no PEP 668 marker).
    (root / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
    (root / "usr/local/bin/python").symlink_to("/usr/bin/python3.11")
    (root / "usr/local/bin/pip").symlink_to("/usr/bin/pip3")
    # The build installs from PyPI through the same proxy as the host: trust what the host trusts.
    shutil.copy(HOST_CA, root / "etc/ssl/certs/host-ca.crt")
    archive = folder / "base-root.tar"
    with tarfile.open(archive, "w") as out:
        out.add(root, arcname=".")
    changes = ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "ENV SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt", "ENV PIP_CERT=/etc/ssl/certs/host-ca.crt"]  # fmt: skip
    imported = engine.run("import", *(f"--change={change}" for change in changes), str(archive), BASE_IMAGE)
    shutil.rmtree(root, ignore_errors=True)
    archive.unlink()
    if imported.returncode != 0:
        raise RuntimeError(f"{engine.command} import of the stand-in base image failed: {imported.stderr[-500:]}")
    return ""


if __name__ == "__main__":  # the background build of start_base_image
    found, _ = find()
    if found is not None:
        with tempfile.TemporaryDirectory() as scratch:
            ensure_base_image(found, Path(scratch))
