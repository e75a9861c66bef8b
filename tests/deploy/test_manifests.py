"""deploy/: each overlay renders with kustomize (kubectl's) and validates offline, core kinds against
Kubernetes' own schemas (kubernetes-validate, strict: unknown fields fail) and Argo CD and Argo
Rollouts kinds against their CRDs' schemas (crd-schemas/). No cluster runs here: this is what
Argo CD would apply.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from gitops_ml import NAME
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
OVERLAYS = ("staging", "production")
SCHEMAS = Path(__file__).parent / "crd-schemas"
KUBERNETES_VERSION = "1.33"  # the oldest minor version the manifests must hold for
DIGEST = re.compile(r"^[\w.-]+(/[\w.-]+)+@sha256:[0-9a-f]{64}$")

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (its kustomize) is not installed")


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    built = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)], capture_output=True, text=True, check=True
    ).stdout
    return tuple(yaml.safe_load_all(built))


def validate(resource: dict[str, Any]) -> None:
    """Raise unless the resource is valid for its kind; a kind with no schema here is an error too."""
    group, _, version = resource["apiVersion"].rpartition("/")
    if group.endswith("argoproj.io"):
        schema = SCHEMAS / f"{group}_{version}_{resource['kind']}.json"
        assert schema.is_file(), f"no schema for {resource['apiVersion']} {resource['kind']} in {SCHEMAS}"
        jsonschema.validate(resource, json.loads(schema.read_text())["schema"])
    else:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def one(resources: tuple[dict[str, Any], ...], kind: str) -> dict[str, Any]:
    [found] = [r for r in resources if r["kind"] == kind]
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_renders_to_resources_valid_for_their_kinds(overlay: str) -> None:
    resources = render(overlay)
    for resource in resources:
        validate(resource)
    kinds = {r["kind"] for r in resources}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "PersistentVolumeClaim"} <= kinds
    assert {r["metadata"]["namespace"] for r in resources} == {f"{NAME}-{overlay}"}


def test_the_validation_refuses_what_the_cluster_would_refuse() -> None:
    deployment = copy.deepcopy(one(render("staging"), "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = ["http"]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    misspelt = copy.deepcopy(one(render("staging"), "Deployment"))
    misspelt["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: an unknown field is an error
        validate(misspelt)
    rollout = copy.deepcopy(one(render("production"), "Rollout"))
    rollout["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": "twenty"}
    with pytest.raises(jsonschema.ValidationError):
        validate(rollout)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_overlay_pins_the_image_by_digest(overlay: str) -> None:
    [container] = one(render(overlay), "Deployment")["spec"]["template"]["spec"]["containers"]
    assert DIGEST.match(container["image"]), container["image"]


def test_the_service_is_probed_scraped_and_logs_onto_its_volume() -> None:
    deployment = one(render("staging"), "Deployment")
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    [mount] = container["volumeMounts"]
    assert env["GITOPS_ML_PREDICTION_LOG"].startswith(mount["mountPath"] + "/")  # one file per pod, on the volume
    claim = one(render("staging"), "PersistentVolumeClaim")["metadata"]["name"]
    assert pod["spec"]["volumes"] == [{"name": mount["name"], "persistentVolumeClaim": {"claimName": claim}}]


def test_production_runs_a_canary_whose_analysis_can_abort_it() -> None:
    resources = render("production")
    rollout, analysis = one(resources, "Rollout"), one(resources, "AnalysisTemplate")
    deployment, autoscaler = one(resources, "Deployment"), one(resources, "HorizontalPodAutoscaler")
    assert rollout["spec"]["workloadRef"]["name"] == deployment["metadata"]["name"]
    assert deployment["spec"]["replicas"] == 0  # the Rollout runs the pods
    assert autoscaler["spec"]["scaleTargetRef"]["kind"] == "Rollout"
    canary = rollout["spec"]["strategy"]["canary"]
    assert [t["templateName"] for t in canary["analysis"]["templates"]] == [analysis["metadata"]["name"]]
    assert {a["name"] for a in canary["analysis"]["args"]} == {
        a["name"] for a in analysis["spec"]["args"] if "value" not in a
    }
    assert [m["name"] for m in analysis["spec"]["metrics"]] == [
        "server-error-share",
        "p99-latency-seconds",
        "predicted-class-mix",
    ]
    for metric in analysis["spec"]["metrics"]:
        assert metric["failureLimit"] >= 1 and metric["successCondition"].startswith("result[0] <=")
        assert "{{args.canary-hash}}" in metric["provider"]["prometheus"]["query"]


def test_argo_cd_syncs_each_overlay_from_main_and_undoes_changes_made_by_hand() -> None:
    applications = {path.stem: yaml.safe_load(path.read_text()) for path in sorted((DEPLOY / "argocd").glob("*.yaml"))}
    assert set(applications) == set(OVERLAYS)
    for overlay, application in applications.items():
        validate(application)
        source = application["spec"]["source"]
        assert (source["path"], source["targetRevision"]) == (f"deploy/overlays/{overlay}", "main")
        assert (ROOT / source["path"] / "kustomization.yaml").is_file()
        assert application["spec"]["destination"]["namespace"] == f"{NAME}-{overlay}"
        assert application["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_the_shadow_component_copies_production_traffic_to_a_candidate_no_client_reaches(tmp_path: Path) -> None:
    deploy = shutil.copytree(DEPLOY, tmp_path / "deploy")
    production = deploy / "overlays" / "production" / "kustomization.yaml"
    candidate = "sha256:" + "c" * 64
    kustomization = yaml.safe_load(production.read_text())
    kustomization["components"] = ["../../components/shadow"]
    repository = kustomization["images"][0]["newName"]  # the project's image, on GitHub's registry
    kustomization["images"].append({"name": f"{NAME}-shadow", "newName": repository, "digest": candidate})
    production.write_text(yaml.safe_dump(kustomization))
    built = subprocess.run(["kubectl", "kustomize", str(production.parent)], capture_output=True, text=True, check=True)
    resources = tuple(yaml.safe_load_all(built.stdout))
    for resource in resources:
        validate(resource)
    deployments = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Deployment"}
    champion = deployments[NAME]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "GITOPS_ML_SHADOW_URL", "value": f"http://{NAME}-shadow"} in champion["env"]
    shadow = deployments[f"{NAME}-shadow"]["spec"]["template"]
    assert shadow["spec"]["containers"][0]["image"] == f"{repository}@{candidate}"
    services = {r["metadata"]["name"]: r["spec"]["selector"] for r in resources if r["kind"] == "Service"}
    shadow_labels = shadow["metadata"]["labels"]
    assert not set(services[NAME].items()) <= set(shadow_labels.items())  # clients never reach the candidate
    assert set(services[f"{NAME}-shadow"].items()) <= set(shadow_labels.items())
    assert all(r["metadata"]["namespace"] == f"{NAME}-production" for r in resources if r["kind"] != "Namespace")
