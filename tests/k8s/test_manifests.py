"""Schema and policy checks over every object both overlays render."""

import base64
import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from app.registry import load_registry
from app.settings import Settings
from tests.k8s._kustomize import Obj, pod_specs
from tests.k8s.conftest import ROOT

# The oldest Kubernetes minor the manifests target (HPA v2, PDB v1 and preStop exec all older).
KUBERNETES_VERSION = "1.30"
NAMESPACE = "localai-gateway"
GATEWAY = "localai-gateway"
LOCALAI = "localai"
PINNED_IMAGE = re.compile(r"^[a-z0-9./-]+:v?\d+\.\d+\.\d+(-[a-z0-9.-]+)?$")

Rendered = tuple[str, tuple[Obj, ...]]


def one(objects: tuple[Obj, ...], kind: str, name: str) -> Obj:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def pod_spec(objects: tuple[Obj, ...], deployment: str) -> Obj:
    return pod_specs(one(objects, "Deployment", deployment))[0]


def container(objects: tuple[Obj, ...], deployment: str) -> Obj:
    (only,) = pod_spec(objects, deployment)["containers"]
    return only


def env(c: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in c.get("env", [])}


def all_containers(objects: tuple[Obj, ...]) -> list[tuple[str, Obj]]:
    return [
        (o["metadata"]["name"], c)
        for o in objects
        for spec in pod_specs(o)
        for c in spec.get("initContainers", []) + spec["containers"]
    ]


def mounted_file(objects: tuple[Obj, ...], deployment: str, path: str) -> tuple[Obj, str]:
    """The ConfigMap or Secret a file path in a deployment's container comes from, and its key."""
    spec = pod_spec(objects, deployment)
    file = PurePosixPath(path)
    mounts = container(objects, deployment)["volumeMounts"]
    (mount,) = [m for m in mounts if m["mountPath"] == str(file.parent)]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    if "configMap" in volume:
        return one(objects, "ConfigMap", volume["configMap"]["name"]), file.name
    return one(objects, "Secret", volume["secret"]["secretName"]), file.name


def test_every_object_matches_the_kubernetes_schema(rendered: Rendered) -> None:
    _, objects = rendered
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_everything_lives_in_the_namespace(rendered: Rendered) -> None:
    _, objects = rendered
    one(objects, "Namespace", NAMESPACE)
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]


def test_every_container_has_startup_readiness_and_liveness_probes(rendered: Rendered) -> None:
    _, objects = rendered
    for o in objects:
        for spec in pod_specs(o):
            for c in spec["containers"]:
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    assert probe in c, f"{c['name']} has no {probe}"


def test_probes_hit_the_health_endpoints(rendered: Rendered) -> None:
    _, objects = rendered
    for deployment in (GATEWAY, LOCALAI):
        c = container(objects, deployment)
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container(objects, LOCALAI)["startupProbe"]["httpGet"]["path"] == "/readyz"


def test_every_container_has_resource_requests_and_limits(rendered: Rendered) -> None:
    _, objects = rendered
    for owner, c in all_containers(objects):
        resources = c["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), f"{owner}/{c['name']}"
        assert "memory" in resources["limits"], f"{owner}/{c['name']}"
    # Only LocalAI goes without a CPU limit: throttling inference buys nothing.
    assert "cpu" in container(objects, GATEWAY)["resources"]["limits"]


def test_images_are_pinned(rendered: Rendered) -> None:
    _, objects = rendered
    for owner, c in all_containers(objects):
        assert PINNED_IMAGE.match(c["image"]), f"{owner}/{c['name']}: {c['image']}"
        assert "latest" not in c["image"]


def test_no_container_can_escalate_privileges(rendered: Rendered) -> None:
    _, objects = rendered
    for owner, c in all_containers(objects):
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, f"{owner}/{c['name']}"


def test_gateway_runs_as_non_root_on_a_read_only_root(rendered: Rendered) -> None:
    _, objects = rendered
    spec = pod_spec(objects, GATEWAY)
    c = container(objects, GATEWAY)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    (tmp,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == tmp["name"]]
    assert "emptyDir" in volume


def test_grace_period_outlasts_prestop_and_drain(rendered: Rendered) -> None:
    _, objects = rendered
    c = container(objects, GATEWAY)
    drain = float(env(c)["LOCALAI_GATEWAY_DRAIN_TIMEOUT"]["value"])
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    grace = pod_spec(objects, GATEWAY)["terminationGracePeriodSeconds"]
    assert grace > drain + float(command[1])


def test_gateway_scales_and_survives_disruptions(rendered: Rendered) -> None:
    _, objects = rendered
    gateway = one(objects, "Deployment", GATEWAY)
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    hpa = one(objects, "HorizontalPodAutoscaler", GATEWAY)
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": GATEWAY,
    }
    assert gateway["spec"]["replicas"] >= 2
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    pdb = one(objects, "PodDisruptionBudget", GATEWAY)
    selector = pdb["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    localai_labels = one(objects, "Deployment", LOCALAI)["spec"]["template"]["metadata"]["labels"]
    assert not selector.items() <= localai_labels.items()


def test_services_select_their_pods_by_named_port(rendered: Rendered) -> None:
    _, objects = rendered
    for deployment in (GATEWAY, LOCALAI):
        service = one(objects, "Service", deployment)
        labels = one(objects, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        ports = {p["name"] for p in container(objects, deployment)["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_every_referenced_configmap_and_secret_key_exists(rendered: Rendered) -> None:
    _, objects = rendered
    for o in objects:
        for spec in pod_specs(o):
            for volume in spec.get("volumes", []):
                if "configMap" in volume:
                    one(objects, "ConfigMap", volume["configMap"]["name"])
                if "secret" in volume:
                    one(objects, "Secret", volume["secret"]["secretName"])
                if "persistentVolumeClaim" in volume:
                    claim = volume["persistentVolumeClaim"]["claimName"]
                    one(objects, "PersistentVolumeClaim", claim)
            for c in spec.get("initContainers", []) + spec["containers"]:
                for variable in c.get("env", []):
                    ref = variable.get("valueFrom", {}).get("secretKeyRef")
                    if ref is not None:
                        assert ref["key"] in one(objects, "Secret", ref["name"])["data"]


def test_gateway_is_wired_to_localai_registry_and_keys(rendered: Rendered) -> None:
    _, objects = rendered
    gateway_env = env(container(objects, GATEWAY))
    url = urlsplit(gateway_env["LOCALAI_GATEWAY_LOCALAI_URL"]["value"])
    service = one(objects, "Service", LOCALAI)
    assert url.hostname == service["metadata"]["name"]
    assert url.port in {p["port"] for p in service["spec"]["ports"]}
    localai_key = env(container(objects, LOCALAI))["LOCALAI_API_KEY"]["valueFrom"]
    assert gateway_env["LOCALAI_GATEWAY_LOCALAI_API_KEY"]["valueFrom"] == localai_key

    registry, key = mounted_file(objects, GATEWAY, gateway_env["LOCALAI_GATEWAY_REGISTRY"]["value"])
    assert registry["kind"] == "ConfigMap"
    assert registry["data"][key] == (ROOT / "localai_models.yaml").read_text(encoding="utf-8")
    keys_file = gateway_env["LOCALAI_GATEWAY_API_KEYS_FILE"]["value"]
    keys, key = mounted_file(objects, GATEWAY, keys_file)
    assert keys["kind"] == "Secret"
    assert key in keys["data"]


def test_shipped_secrets_are_obvious_placeholders(rendered: Rendered) -> None:
    _, objects = rendered
    for secret in (o for o in objects if o["kind"] == "Secret"):
        for value in secret["data"].values():
            assert b"CHANGE-ME-placeholder" in base64.b64decode(value)


def test_localai_volumes_and_model_configs(rendered: Rendered) -> None:
    _, objects = rendered
    spec = pod_spec(objects, LOCALAI)
    c = container(objects, LOCALAI)
    localai_env = env(c)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in c["volumeMounts"]}
    assert "persistentVolumeClaim" in mounts[localai_env["LOCALAI_MODELS_PATH"]["value"]]
    assert "persistentVolumeClaim" in mounts[localai_env["LOCALAI_BACKENDS_PATH"]["value"]]
    assert localai_env["LOCALAI_GENERATED_CONTENT_PATH"]["value"] in mounts

    (init,) = spec["initContainers"]
    init_mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    models_path = localai_env["LOCALAI_MODELS_PATH"]["value"]
    (models_volume,) = [m["name"] for m in c["volumeMounts"] if m["mountPath"] == models_path]
    assert init_mounts[models_volume] == models_path
    (configs,) = [v for v in spec["volumes"] if "configMap" in v and v["name"] in init_mounts]
    models = one(objects, "ConfigMap", configs["configMap"]["name"])
    rendered_files = sorted(p.name for p in (ROOT / "k8s/base/localai-models").glob("*.yaml"))
    assert sorted(models["data"]) == [f for f in rendered_files if f != "kustomization.yaml"]


def test_localai_preinstalls_every_backend_the_registry_uses(rendered: Rendered) -> None:
    _, objects = rendered
    registry = load_registry(ROOT / "localai_models.yaml")
    used = {e.localai.backend for e in registry.models.values() if e.localai and e.localai.backend}
    listed = env(container(objects, LOCALAI))["LOCALAI_EXTERNAL_BACKENDS"]["value"].split(",")
    assert used <= set(listed)


def test_only_the_gpu_overlay_asks_for_an_nvidia_gpu(rendered: Rendered) -> None:
    overlay, objects = rendered
    c = container(objects, LOCALAI)
    if overlay == "gpu-nvidia":
        assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert c["image"].endswith("-gpu-nvidia-cuda-12")
    else:
        limits = [x["resources"]["limits"] for _, x in all_containers(objects)]
        assert not any("nvidia.com/gpu" in limit for limit in limits)
        assert "gpu" not in c["image"]
    init = pod_spec(objects, LOCALAI)["initContainers"][0]
    assert init["image"] == c["image"], "the init container reuses the already-pulled image"


@pytest.mark.parametrize("overlay", ["cpu", "gpu-nvidia"])
def test_overlay_pins_the_gateway_image_it_documents(overlay: str) -> None:
    kustomization = yaml.safe_load(
        (ROOT / "k8s/overlays" / overlay / "kustomization.yaml").read_text(encoding="utf-8")
    )
    images = {i["name"]: i["newTag"] for i in kustomization["images"]}
    assert images["ghcr.io/example/localai-gateway"] == "0.1.0"


def test_placeholder_keys_file_is_one_the_gateway_loads() -> None:
    """The shipped keys Secret must not crash the gateway at start-up."""
    from pathlib import Path

    from app.access.auth import load_keys

    path = Path(__file__).resolve().parents[2] / "k8s/base/secrets/gateway-api-keys.placeholder"
    keys = load_keys(path)
    assert keys is not None


def test_every_gateway_pod_signs_image_links_with_one_shared_key(rendered: Rendered) -> None:
    _, objects = rendered
    ref = env(container(objects, GATEWAY))["LOCALAI_GATEWAY_IMAGE_URL_KEY"]["valueFrom"]
    secret = one(objects, "Secret", ref["secretKeyRef"]["name"])
    key = base64.b64decode(secret["data"][ref["secretKeyRef"]["key"]])
    assert len(key) >= 32, "the gateway refuses a shorter key at start-up"


def test_gateway_pods_share_their_rate_limit_buckets(rendered: Rendered) -> None:
    _, objects = rendered
    url = urlsplit(
        env(container(objects, GATEWAY))["LOCALAI_GATEWAY_RATE_LIMIT_REDIS_URL"]["value"]
    )
    service = one(objects, "Service", url.hostname or "")
    assert url.scheme == "redis" and url.port in {p["port"] for p in service["spec"]["ports"]}
    redis = one(objects, "Deployment", "ratelimit-redis")
    assert (
        service["spec"]["selector"].items()
        <= redis["spec"]["template"]["metadata"]["labels"].items()
    )
    assert service["metadata"]["namespace"] == NAMESPACE


def test_tmp_holds_every_upload_the_gateway_admits_at_once(rendered: Rendered) -> None:
    _, objects = rendered
    spec, gateway_env = pod_spec(objects, GATEWAY), env(container(objects, GATEWAY))
    (tmp,) = [v for v in spec["volumes"] if v["name"] == "tmp"]
    limit = tmp["emptyDir"]["sizeLimit"]
    assert limit.endswith("Mi")
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    uploads = int(gateway_env["LOCALAI_GATEWAY_MAX_CONCURRENT_UPLOADS"]["value"])
    body = defaults.max_request_bytes
    if "LOCALAI_GATEWAY_MAX_REQUEST_BYTES" in gateway_env:
        body = int(gateway_env["LOCALAI_GATEWAY_MAX_REQUEST_BYTES"]["value"])
    assert int(limit[:-2]) * 1024 * 1024 >= uploads * body
