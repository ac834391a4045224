"""The Kubernetes manifests, checked offline: every overlay rendered with `kubectl kustomize`,
every document validated against Kubernetes' JSON schemas (kubernetes-validate, bundled) or the
vendored schema of its operator's CRD (deploy/schemas/crds), the properties that matter asserted,
the names the manifests share with the code (queues, metrics, secrets) compared with it, and
checkov run on the result (deploy/k8s/README.md, "Security linter").

Needs `kubectl` (its built-in kustomize) and checkov in its own virtualenv; ./scripts/test sets
both up where it can, and a missing one fails the test with what to install: never a skip."""

from __future__ import annotations

import ast
import dataclasses
import functools
import http.server
import inspect
import json
import os
import re
import runpy
import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import importlib_resources
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from services.shared import signing_keys

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = sorted(p.parent for p in (DEPLOY / "k8s" / "overlays").glob("*/kustomization.yaml"))
CRD_DIR = DEPLOY / "schemas" / "crds"
K8S_README = DEPLOY / "k8s" / "README.md"
DASHBOARD = DEPLOY / "observability" / "grafana-dashboard.json"

# Kubernetes versions whose schemas every document must satisfy: the oldest we support and the
# newest kubernetes-validate bundles.
K8S_VERSIONS = ("1.32", "1.37")
# kustomize features the overlays use (labels, replicas, regex patch targets) need kustomize 5,
# which kubectl embeds since 1.27.
KUBECTL_MIN = (1, 27)
CHECKOV = Path(os.environ.get("NEWSREEL_CHECKOV")
               or REPO / "var" / "tools" / "checkov" / "bin" / "checkov")

APP = ("auth", "mailer", "catalog", "transcoder-api", "transcoder-worker", "gateway")
# Deployment -> (service whose database and migrations it uses, metrics port or None)
SERVICE_OF = {"auth": "auth", "mailer": "mailer", "catalog": "catalog",
              "transcoder-api": "transcoder", "transcoder-worker": "transcoder",
              "gateway": None}
AMQP_USER_OF = {"auth": "newsreel-auth", "mailer": "newsreel-mailer",
                "catalog": "newsreel-catalog", "transcoder-api": "newsreel-transcoder",
                "transcoder-worker": "newsreel-transcoder", "gateway": "newsreel-gateway"}
SERVICE_CLASSES = {"auth": "services.auth.entrypoint:AuthService",
                   "mailer": "services.mailer.entrypoint:MailerService",
                   "catalog": "services.catalog.entrypoint:CatalogService",
                   "transcoder": "services.transcoder.entrypoint:TranscoderService"}
CODE_QUEUE = "evt-auth-verification_code.issued.v1--mailer.on_verification_code_issued"
JOB_QUEUE = "evt-transcoder-job.queued.v1--transcoder.run_job"
DEFAULT_DENY = "default-deny"
# The signing key rings (services/shared/signing_keys.py), each in a Secret of its holders only.
SIGNING_KEY_SECRET = {"SESSION_KEYS": "newsreel-gateway-keys",
                      "CSRF_KEYS": "newsreel-gateway-keys",
                      "DOWNLOAD_LINK_KEYS": "newsreel-gateway-keys",
                      "UNSUBSCRIBE_KEYS": "newsreel-unsubscribe-keys"}


# --- rendering -----------------------------------------------------------------------------------

def _kubectl() -> str:
    kubectl = os.environ.get("NEWSREEL_KUBECTL") or shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed: the manifests cannot be rendered. Install kubectl "
                    f">= {'.'.join(map(str, KUBECTL_MIN))} (./scripts/test does when apt offers "
                    "it: the package `kubectl` from the Kubernetes apt repository, or Debian's "
                    "`kubernetes-client` where it is that recent), then re-run.")
    out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True,
                         text=True, check=False, timeout=60)
    try:
        version = json.loads(out.stdout)["clientVersion"]
        have = (int(version["major"]), int(re.match(r"\d+", version["minor"]).group()))
    except (ValueError, KeyError, AttributeError):
        pytest.fail(f"cannot read kubectl's version: {out.stdout or out.stderr}")
    if have < KUBECTL_MIN:
        pytest.fail(f"kubectl {have[0]}.{have[1]} is too old (its kustomize cannot build the "
                    f"overlays): install kubectl >= {KUBECTL_MIN[0]}.{KUBECTL_MIN[1]}.")
    return kubectl


@functools.cache
def rendered(overlay: Path) -> tuple[str, tuple[dict, ...]]:
    out = subprocess.run([_kubectl(), "kustomize", str(overlay)], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 0, f"kubectl kustomize {overlay.name} failed:\n{out.stderr}"
    docs = tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)
    return out.stdout, docs


@pytest.fixture(params=OVERLAYS, ids=lambda p: p.name)
def overlay(request) -> Path:
    return request.param


@pytest.fixture
def docs(overlay) -> tuple[dict, ...]:
    return rendered(overlay)[1]


def of_kind(docs, kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def name_of(doc: dict) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def test_every_overlay_is_found():
    assert {p.name for p in OVERLAYS} >= {"local", "production"}


# --- schemas -------------------------------------------------------------------------------------

K8S_DEFS = "https://kubernetes.io/api/_definitions.json#/$defs/"
SCHEMAS = importlib_resources.files("kubernetes_validate") / "kubernetes-json-schema"


@functools.cache
def k8s_registry(version: str) -> tuple[Path, Registry]:
    directory = Path(str(SCHEMAS / f"v{version}.0-local-strict"))
    assert directory.is_dir(), f"kubernetes-validate bundles no schemas for Kubernetes {version}"
    definitions = json.loads((directory / "_definitions.json").read_text())
    return directory, Resource.from_contents(definitions) @ Registry()


def _structural_to_jsonschema(node, strict: bool = True):
    """A CRD's structural OpenAPI v3 schema as JSON Schema 2020-12: x-kubernetes-int-or-string,
    nullable and x-kubernetes-preserve-unknown-fields read as the API server reads them, unknown
    fields refused (kubectl's default server-side field validation is Strict), and `$k8s` (our
    mark for a Kubernetes type the CRD inlines) checked against Kubernetes' own schema."""
    if not isinstance(node, dict):
        return node
    if "$k8s" in node:
        return {"$ref": K8S_DEFS + node["$k8s"]}
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {k: _structural_to_jsonschema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _structural_to_jsonschema(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_structural_to_jsonschema(v) for v in value]
        elif key.startswith("x-kubernetes-") or key in ("nullable", "description", "default",
                                                         "format"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (strict and node.get("type") == "object" and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        schema = _structural_to_jsonschema(crd["openAPIV3Schema"])
        schema["properties"]["metadata"] = {
            "$ref": K8S_DEFS + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
        schemas[(f"{crd['group']}/{crd['version']}", crd["kind"])] = schema
    return schemas


def _core_schema_file(directory: Path, doc: dict) -> Path:
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc["apiVersion"])
    return directory / f"{doc['kind'].lower()}-{api}.json"


def schema_errors(doc: dict, version: str) -> list[str]:
    directory, registry = k8s_registry(version)
    core = _core_schema_file(directory, doc)
    group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
    if core.exists() and (not group or group.endswith(".k8s.io") or "." not in group):
        schema = json.loads(core.read_text())
        where = f"Kubernetes {version}"
    elif (doc["apiVersion"], doc["kind"]) in crd_schemas():
        schema = crd_schemas()[(doc["apiVersion"], doc["kind"])]
        where = f"the vendored CRD schema (deploy/schemas/crds), Kubernetes {version} types"
    else:
        return [f"{name_of(doc)}: no schema for {doc['apiVersion']} {doc['kind']}: vendor its "
                "CRD's schema into deploy/schemas/crds (README.md there says how)"]
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{name_of(doc)} against {where}: "
            f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_document_is_valid_against_its_schema(docs, version):
    errors = [error for doc in docs for error in schema_errors(doc, version)]
    assert not errors, "\n".join(errors)


def test_the_vendored_crd_schemas_catch_mistakes():
    """The validation is not vacuous: a misspelt field, a wrong type and a value outside an enum
    are each refused."""
    good = {"apiVersion": "rabbitmq.com/v1beta1", "kind": "Vhost",
            "metadata": {"name": "v"},
            "spec": {"name": "v", "defaultQueueType": "quorum",
                     "rabbitmqClusterReference": {"name": "r"}}}
    assert schema_errors(good, K8S_VERSIONS[-1]) == []
    for bad_spec in ({"defaultQueueTyp": "quorum"}, {"defaultQueueType": "fast"},
                     {"tracing": "yes"}):
        bad = {**good, "spec": {**good["spec"], **bad_spec}}
        assert schema_errors(bad, K8S_VERSIONS[-1]), bad_spec
    cluster = {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster",
               "metadata": {"name": "r"},
               "spec": {"affinity": {"podAntiAffinity": {"requiredDuringScheduling": []}}}}
    assert schema_errors(cluster, K8S_VERSIONS[-1]), "inlined Kubernetes types are checked"
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"selector": {}, "template": {"spec": {"containers": [
                      {"name": "c", "image": "i", "securityContex": {}}]}}}}
    assert schema_errors(deployment, K8S_VERSIONS[-1])


# --- the properties that matter ------------------------------------------------------------------

def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def containers(deployment: dict) -> list[dict]:
    spec = pod_spec(deployment)
    return [*spec.get("initContainers", []), *spec["containers"]]


def selects(selector: dict, labels: dict) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against a set of labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def test_one_deployment_and_service_per_process(docs):
    deployments, services = of_kind(docs, "Deployment"), of_kind(docs, "Service")
    assert sorted(deployments) == sorted(APP)
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [s for s in services.values() if selects({"matchLabels": s["spec"]["selector"]},
                                                             labels)]
        assert len(matching) == 1, f"{name}: {len(matching)} Services select its pods"


def test_containers_are_locked_down(docs):
    problems = []
    for name, deployment in of_kind(docs, "Deployment").items():
        pod = pod_spec(deployment).get("securityContext") or {}
        if (pod.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: pod seccompProfile is not RuntimeDefault")
        if pod_spec(deployment).get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: the service account token is mounted")
        for c in containers(deployment):
            sc = c.get("securityContext") or {}
            where = f"{name}/{c['name']}"
            if not (sc.get("runAsNonRoot") or pod.get("runAsNonRoot")):
                problems.append(f"{where}: runAsNonRoot is not set")
            if (sc.get("runAsUser", pod.get("runAsUser")) or 0) == 0:
                problems.append(f"{where}: runs as uid 0 or an unknown uid")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: the root filesystem is writable")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation is allowed")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{where}: capabilities are not all dropped")
            if (sc.get("capabilities") or {}).get("add"):
                problems.append(f"{where}: adds capabilities")
    assert not problems, "\n".join(problems)


def test_resources_are_requested_and_limited(docs):
    problems = []
    for name, deployment in of_kind(docs, "Deployment").items():
        for c in containers(deployment):
            resources = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (resources.get(kind) or {}):
                        problems.append(f"{name}/{c['name']}: no {resource} {kind[:-1]}")
    assert not problems, "\n".join(problems)


def test_images_are_pinned(docs):
    for name, deployment in of_kind(docs, "Deployment").items():
        for c in containers(deployment):
            image = c["image"]
            repository, _, tag = image.rpartition(":")
            assert "@sha256:" in image or (repository and "/" not in tag and tag != "latest"), (
                f"{name}/{c['name']}: image {image} is not pinned by tag or digest")


def test_probes_answer_on_each_process_port(docs):
    for name, deployment in of_kind(docs, "Deployment").items():
        if name == "gateway":  # loopback only, behind its front door: test_the_gateway_pods_probes
            continue
        app = pod_spec(deployment)["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in app.get("ports", [])}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = (app.get(probe) or {}).get("httpGet") or {}
            assert get.get("path") == path, f"{name}: {probe} is not GET {path}"
            assert get.get("port") in ports, f"{name}: {probe} names no port of the container"
        env = {e["name"]: e.get("value") for e in app.get("env", [])}
        assert app["livenessProbe"]["httpGet"]["port"] == "metrics"
        assert env.get("METRICS_PORT") == str(ports["metrics"]), (
            f"{name}: METRICS_PORT is not the port the probes and Prometheus use")


def test_every_deployment_has_a_disruption_budget(docs):
    budgets = of_kind(docs, "PodDisruptionBudget").values()
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(selects(b["spec"]["selector"], labels) for b in budgets), (
            f"{name}: no PodDisruptionBudget selects its pods")


def test_network_policies_deny_by_default_and_cover_every_deployment(docs):
    policies = of_kind(docs, "NetworkPolicy")
    deny = policies.get(DEFAULT_DENY)
    assert deny is not None
    assert deny["spec"]["podSelector"] == {}
    assert sorted(deny["spec"]["policyTypes"]) == ["Egress", "Ingress"]
    assert not deny["spec"].get("ingress") and not deny["spec"].get("egress")
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        own = [p for p in policies.values()
               if p["spec"]["podSelector"] and selects(p["spec"]["podSelector"], labels)]
        kinds = {t for p in own for t in p["spec"]["policyTypes"]}
        assert "Egress" in kinds, f"{name}: no NetworkPolicy lets its pods out (AMQP at least)"
        assert "Ingress" in kinds, f"{name}: no NetworkPolicy lets Prometheus scrape its pods"


def egress_ports(policies, labels) -> set[int]:
    return {port.get("port") for p in policies.values()
            if "Egress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("egress") or [] for port in rule.get("ports") or []}


def test_network_policies_open_what_each_process_needs_and_no_more(docs):
    policies = of_kind(docs, "NetworkPolicy")
    deployments = of_kind(docs, "Deployment")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        ports = egress_ports(policies, labels)
        assert {53, 5671} <= ports, f"{name}: DNS or AMQP (TLS) egress missing"
        wants_db = SERVICE_OF[name] is not None
        assert (5432 in ports) == wants_db, (
            f"{name}: PostgreSQL egress {'missing' if wants_db else 'not needed'}")
        smtp = {25, 465, 587} & ports
        assert bool(smtp) == (name == "mailer"), f"{name}: SMTP egress is the mailer's alone"
    # Each database admits its own instances and its own service's pods, nobody else.
    for cluster in of_kind(docs, "Cluster"):
        service = cluster.removesuffix("-db")
        policy = policies[cluster]
        admitted = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        for other, deployment in deployments.items():
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            allowed = any(selects(peer["podSelector"], labels) for peer in admitted
                          if "podSelector" in peer and "namespaceSelector" not in peer)
            assert allowed == (SERVICE_OF[other] == service), f"{cluster} admits {other}?"
    # The web reaches the gateway only; Prometheus reaches every process.
    ingress_from_web = policies["gateway-ingress"]
    assert selects(ingress_from_web["spec"]["podSelector"],
                   deployments["gateway"]["spec"]["template"]["metadata"]["labels"])
    scrape = policies["prometheus-scrape"]
    for deployment in deployments.values():
        assert selects(scrape["spec"]["podSelector"],
                       deployment["spec"]["template"]["metadata"]["labels"])


def test_no_secret_is_committed(docs):
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert not [name_of(s) for s in secrets if s.get("data") or s.get("stringData")]


def referenced_secrets(docs) -> set[tuple[str, str]]:
    found = set()

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("secretKeyRef")
            if isinstance(ref, dict):
                found.add((ref["name"], ref["key"]))
            for key in ("importCredentialsSecret",):
                if isinstance(node.get(key), dict):
                    found.add((node[key]["name"], "username"))
                    found.add((node[key]["name"], "password"))
            for ref in node.get("secretTargetRef") or []:
                found.add((ref["name"], ref["key"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(list(docs))
    return found


def test_every_secret_referenced_is_documented_or_made_by_an_operator(docs):
    readme = K8S_README.read_text()
    section = readme.split("## Secrets to create", 1)[-1].split("\n## ", 1)[0]
    clusters = set(of_kind(docs, "Cluster"))
    tls = {ref["name"] for g in of_kind(docs, "Gateway").values()
           for listener in g["spec"]["listeners"]
           for ref in (listener.get("tls") or {}).get("certificateRefs") or []
           if ref.get("kind", "Secret") == "Secret" and not ref.get("group")}
    for name, key in sorted(referenced_secrets(docs) | {(s, "tls.crt") for s in tls}):
        if name.endswith("-app") and name.removesuffix("-app") in clusters:
            assert key == "uri", f"{name}: CloudNativePG's app secret has the key uri"
            continue
        assert f"`{name}`" in section, f"Secret {name} is not in README.md's Secrets to create"
        assert f"`{key}`" in section, f"key {key} of Secret {name} is not documented"


def test_each_pod_holds_only_the_signing_keys_of_its_purposes(docs):
    """Issue 10, point 9: the mailer's pod gets its unsubscribe keys and nothing that signs a
    session, a form or a download link; only the gateway's own container gets those; the one
    SECRET_KEY of before nowhere. Each ring comes key by key from a Secret of its own holders
    (no envFrom of a whole Secret)."""
    rings = set(signing_keys.ALL)
    for name, deployment in of_kind(docs, "Deployment").items():
        main = pod_spec(deployment)["containers"][0]
        for c in containers(deployment):
            env = {e["name"]: e for e in c.get("env", [])}
            assert signing_keys.RETIRED not in env, f"{name}/{c['name']}"
            held = set(signing_keys.HELD_BY.get(name, ())) if c is main else set()
            assert rings & set(env) == held, f"{name}/{c['name']}"
            assert not [s for s in c.get("envFrom") or [] if "secretRef" in s], name
            for setting in held:
                ref = env[setting]["valueFrom"]["secretKeyRef"]
                assert ref == {"name": SIGNING_KEY_SECRET[setting], "key": setting}, name
    # a Secret holding a gateway-only ring is read by the gateway alone
    readers: dict[str, set[str]] = {}
    for name, deployment in of_kind(docs, "Deployment").items():
        for c in containers(deployment):
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    readers.setdefault(ref["name"], set()).add(name)
    assert readers["newsreel-gateway-keys"] == {"gateway"}
    assert readers["newsreel-unsubscribe-keys"] == {"gateway", "mailer"}


def test_configmaps_referenced_exist(docs):
    maps = set(of_kind(docs, "ConfigMap"))
    for name, deployment in of_kind(docs, "Deployment").items():
        for c in containers(deployment):
            for source in c.get("envFrom") or []:
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in maps, name


def test_each_service_with_a_database_migrates_it_first(docs):
    clusters = of_kind(docs, "Cluster")
    for name, deployment in of_kind(docs, "Deployment").items():
        service = SERVICE_OF[name]
        init = pod_spec(deployment).get("initContainers") or []
        if service is None:
            assert not init
            continue
        assert f"{service}-db" in clusters, f"{name}: no CloudNativePG Cluster {service}-db"
        bootstrap = clusters[f"{service}-db"]["spec"]["bootstrap"]["initdb"]
        assert bootstrap == {"database": service, "owner": service}
        assert [c["command"] for c in init] == [
            ["python", "-m", "services.shared.migrate", service]], name
        url_var = f"{service.upper()}_DATABASE_URL"
        for c in [*init, pod_spec(deployment)["containers"][0]]:
            env = {e["name"]: e for e in c.get("env", [])}
            assert env[url_var]["valueFrom"]["secretKeyRef"] == {
                "name": f"{service}-db-app", "key": "uri"}, f"{name}/{c['name']}"


def test_the_media_volume_is_shared(overlay, docs):
    claims = of_kind(docs, "PersistentVolumeClaim")
    users = {name for name, d in of_kind(docs, "Deployment").items()
             for v in pod_spec(d).get("volumes", [])
             if (v.get("persistentVolumeClaim") or {}).get("claimName") == "media"}
    assert users == {"catalog", "transcoder-api", "transcoder-worker", "gateway"}
    if overlay.name != "local":  # one node: ReadWriteOnce is shared by every pod on it
        assert claims["media"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_scaling(overlay, docs):
    deployments = of_kind(docs, "Deployment")
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    scaled = of_kind(docs, "ScaledObject")
    assert hpas["gateway"]["spec"]["scaleTargetRef"]["name"] == "gateway"
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()} == {
        "transcoder-worker", "mailer"}
    # What an autoscaler owns carries no replica count of its own (an apply would reset it).
    for name in ("gateway", "transcoder-worker", "mailer"):
        assert "replicas" not in deployments[name]["spec"], name
    queues = {q["spec"]["name"] for q in of_kind(docs, "Queue").values()}
    for s in scaled.values():
        for trigger in s["spec"]["triggers"]:
            assert trigger["type"] == "rabbitmq"
            assert trigger["metadata"]["queueName"] in queues
            assert trigger["metadata"]["vhostName"] == "newsreel"
            assert trigger["authenticationRef"]["name"] in of_kind(docs, "TriggerAuthentication")
    jobs = [t["metadata"]["queueName"] for t in scaled["transcoder-worker"]["spec"]["triggers"]]
    assert jobs == [JOB_QUEUE]
    worker = pod_spec(deployments["transcoder-worker"])
    assert worker["terminationGracePeriodSeconds"] >= 600, "a job in hand must be able to finish"
    if overlay.name == "local":
        assert all(d["spec"].get("replicas", 1) == 1 for d in deployments.values())
        assert hpas["gateway"]["spec"]["minReplicas"] == 1
        assert all(s["spec"]["maxReplicaCount"] == 1 for s in scaled.values())
        assert of_kind(docs, "RabbitmqCluster")["newsreel-rabbitmq"]["spec"]["replicas"] == 1
    else:
        assert hpas["gateway"]["spec"]["minReplicas"] >= 2
        for name in ("auth", "catalog", "transcoder-api"):
            assert deployments[name]["spec"]["replicas"] >= 2, name
        for name, d in deployments.items():
            spread = pod_spec(d).get("topologySpreadConstraints") or []
            keys = {c["topologyKey"] for c in spread}
            assert {"kubernetes.io/hostname", "topology.kubernetes.io/zone"} <= keys, name
        rabbit = of_kind(docs, "RabbitmqCluster")["newsreel-rabbitmq"]["spec"]
        assert rabbit["replicas"] >= 3 and rabbit["replicas"] % 2 == 1
        assert rabbit["affinity"]["podAntiAffinity"]
        for cluster in of_kind(docs, "Cluster").values():
            assert cluster["spec"]["instances"] >= 3
            assert cluster["spec"]["affinity"]["enablePodAntiAffinity"] is True


def test_every_process_is_scraped(docs):
    services = of_kind(docs, "Service")
    monitors = of_kind(docs, "ServiceMonitor")
    for name in APP:
        service = services[name]
        monitor = monitors[name]
        assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])
        ports = {p["name"] for p in service["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in ports and endpoint["path"] == "/metrics"
            # our metrics carry `service` and `endpoint` labels of their own (monitoring.yaml)
            assert endpoint.get("honorLabels") is True, name


# --- the gateway pod: gunicorn on the loopback, behind its front door (nginx) ---------------------

GATEWAY_CONTAINERS = ("gateway", "frontdoor", "frontdoor-log-metrics", "frontdoor-nginx-metrics")
FRONTDOOR = ["python", "-m", "gateway.frontdoor"]
EDGE = "newsreel"  # the Gateway (edge.yaml)
# NGINX Gateway Fabric labels the pods of the proxies it runs for a Gateway with its name.
EDGE_POD_LABELS = {"gateway.networking.k8s.io/gateway-name": EDGE}
MONITORING = {"kubernetes.io/metadata.name": "monitoring"}
GUNICORN_CONF = REPO / "gateway" / "gunicorn_conf.py"


def container(deployment: dict, name: str) -> dict:
    found = [c for c in pod_spec(deployment)["containers"] if c["name"] == name]
    assert len(found) == 1, f"{deployment['metadata']['name']}: no container {name}"
    return found[0]


def gateway_pod(docs) -> dict:
    return of_kind(docs, "Deployment")["gateway"]


def named_ports(deployment: dict) -> dict[str, tuple[str, int]]:
    """Port name -> (container, port number), over the pod's containers."""
    return {p["name"]: (c["name"], p["containerPort"]) for c in pod_spec(deployment)["containers"]
            for p in c.get("ports") or []}


@functools.cache
def image_env() -> dict[str, str]:
    """The runtime image's ENV (deploy/Dockerfile's last stage), PATH left out."""
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    final = re.split(r"^FROM ", dockerfile, flags=re.M)[-1]
    env = {}
    for line in re.findall(r"^ENV\s+(.+)$", final, re.M):
        env.update((k, v) for k, v in re.findall(r"(\w+)=(\S+)", line) if k != "PATH")
    return env


def container_env(docs, c: dict) -> dict[str, str]:
    """A container's environment as it starts: the image's ENV, its ConfigMaps' data, then its
    own `env` values, $(VAR) expanded as the kubelet does (Secrets left out)."""
    maps = of_kind(docs, "ConfigMap")
    env = dict(image_env())
    for source in c.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]].get("data") or {})
    for e in c.get("env") or []:
        if "value" in e:
            env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)),
                                    e["value"])
    return env


def frontdoor_settings(env: dict[str, str], monkeypatch):
    """The FrontDoorSettings `python -m gateway.frontdoor` builds in that environment, run as the
    pod's uid (never root: no `user` line)."""
    from gateway.frontdoor import FrontDoorSettings

    source = (REPO / "gateway" / "frontdoor" / "__init__.py").read_text()
    read = {n for n in re.findall(r'"([A-Z][A-Z0-9_]+)"', source) if not n.endswith("_BIN")}
    for name in read | {"NEWSREEL_VAR"}:
        if name in env:
            monkeypatch.setenv(name, env[name])
        else:
            monkeypatch.delenv(name, raising=False)
    return dataclasses.replace(FrontDoorSettings.from_env(), as_root=False)


def on_this_machine(text: str, mounts: dict[str, Path]) -> str:
    """`text` with each of a container's mount paths (/run/frontdoor, /media) replaced by the
    local folder standing for its volume."""
    for pod_path in sorted(mounts, key=len, reverse=True):
        text = re.sub(rf"(?:^|(?<=[\s,])){re.escape(pod_path)}(?=[/;,\s]|$)",
                      str(mounts[pod_path]), text)
    return text


def quantity(text: str) -> int:
    """A Kubernetes quantity of bytes (2Gi, 128Mi, 1G) as a number."""
    number, unit = re.fullmatch(r"(\d+)([KMGT]i?|k)?", str(text)).groups()
    powers = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
              "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    return int(number) * powers.get(unit or "", 1)


def nginx_size(text: str) -> int:
    """An nginx size (80m, 512k, 1g, 1024) in bytes."""
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text).groups()
    return int(number) * 1024 ** " kmg".index(unit or " ")


def nginx_seconds(text: str) -> float:
    """An nginx time (600s, 10m, 1h, 500ms, 60) in seconds."""
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", text).groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[unit]


def volume_of(deployment: dict, c: dict, path: str) -> tuple[str, dict]:
    """The mount of container `c` that holds `path` (the deepest one) and its volume."""
    mounts = [m for m in c.get("volumeMounts") or []
              if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mounts, f"{c['name']}: {path} is on no volume (the root filesystem is read-only)"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    return mount["mountPath"], {**volumes[mount["name"]], "readOnly": bool(mount.get("readOnly"))}


def test_the_gateway_pod_is_the_gateway_and_its_front_door(docs):
    deployment = gateway_pod(docs)
    assert [c["name"] for c in pod_spec(deployment)["containers"]] == list(GATEWAY_CONTAINERS)
    assert container(deployment, "frontdoor")["command"] == [*FRONTDOOR, "run"]
    assert container(deployment, "frontdoor-log-metrics")["command"] == [*FRONTDOOR, "mtail"]
    assert container(deployment, "frontdoor-nginx-metrics")["command"] == [*FRONTDOOR, "exporter"]
    assert not any(c.get("args") for c in pod_spec(deployment)["containers"])


def test_the_front_door_runs_the_config_the_tests_run(docs, tmp_path, monkeypatch):
    """The nginx config the frontdoor container would render is rendered here by the same code
    from the same environment (the ConfigMap resolved), its paths checked against the
    container's volumes, and `nginx -t` passes on it with each volume a local folder."""
    from gateway.frontdoor import nginx_command, prepare, render

    deployment = gateway_pod(docs)
    frontdoor = container(deployment, "frontdoor")
    env = container_env(docs, frontdoor)
    assert {"NGINX_PREFIX", "MEDIA_ROOT"} <= set(env), (
        "without them the runner writes below NEWSREEL_VAR, on the read-only root")
    pod = frontdoor_settings(env, monkeypatch)
    # nginx alone: mtail and the exporter are containers of their own, not its children
    assert pod.log_metrics_port is None and pod.nginx_metrics_port is None
    ports = {p["name"]: p["containerPort"] for p in frontdoor["ports"]}
    assert (pod.host, pod.port, pod.status_port) == ("0.0.0.0", ports["http"], ports["status"])
    assert pod.workers != "auto", "auto is the node's CPU count, not the container's limit"
    config = render(pod)

    # What nginx writes (pid, request bodies, temp files, the log file) is on the container's
    # writable volumes, under its prefix; nothing under /var/log/nginx or /var/lib/nginx.
    def writable(path: str) -> bool:
        return not volume_of(deployment, frontdoor, path)[1]["readOnly"]

    temp = dict(re.findall(r"^\s*(\w+)_temp_path\s+([^\s;]+)", config, re.M))
    assert set(temp) == {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}, (
        "every temp path nginx was compiled with (/var/lib/nginx/...) is set")
    for path in [*temp.values(), *re.findall(r"^\s*pid\s+([^\s;]+)", config, re.M)]:
        assert path.startswith(f"{pod.prefix}/") and writable(path), path
    logs = [p for p in re.findall(r"^\s*access_log\s+([^\s;]+)", config, re.M) if p != "off"]
    assert logs == list(pod.access_logs)
    assert all(p.startswith("/dev/std") or writable(p) for p in logs), logs
    assert set(re.findall(r"^\s*error_log\s+([^\s;]+)", config, re.M)) == {"stderr"}
    assert "/var/log/nginx" not in config and "/var/lib/nginx" not in config
    # The prefix holds request bodies of up to a chunk each: room for a few at once.
    _, prefix_volume = volume_of(deployment, frontdoor, str(pod.prefix))
    assert quantity(prefix_volume["emptyDir"]["sizeLimit"]) >= 8 * pod.upload_chunk_max
    # The media nginx serves, read-only.
    media_mount, media = volume_of(deployment, frontdoor, str(pod.media_root))
    assert media_mount == str(pod.media_root) and media["readOnly"]

    # The same config on this machine, each volume a folder here; nginx -t on it.
    tmp = tmp_path.resolve()
    mounts = {m["mountPath"]: tmp / m["name"] for m in frontdoor["volumeMounts"]}
    for folder in mounts.values():
        folder.mkdir()  # a volume's mount point exists before the container starts
    here = frontdoor_settings({k: on_this_machine(v, mounts) for k, v in env.items()},
                              monkeypatch)
    try:
        tested = prepare(here)
        command = nginx_command(here, tested, "-t", "-q")
    except SystemExit as exc:
        pytest.fail(f"{exc} (./scripts/test installs nginx)")
    as_in_the_pod = tested.read_text()
    for pod_path, folder in sorted(mounts.items(), key=lambda m: -len(str(m[1]))):
        as_in_the_pod = as_in_the_pod.replace(str(folder), pod_path)
    assert as_in_the_pod == config, "only the volumes' paths differ"
    check = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert check.returncode == 0, f"nginx -t refuses the pod's config:\n{check.stderr}"


def test_the_gateway_listens_on_the_pods_loopback_only(docs):
    deployment = gateway_pod(docs)
    gateway, frontdoor = container(deployment, "gateway"), container(deployment, "frontdoor")
    env, front = container_env(docs, gateway), container_env(docs, frontdoor)
    # gunicorn's bind, as gateway/gunicorn_conf.py computes it in that environment
    saved = {k: os.environ.get(k) for k in ("HOST", "PORT")}
    try:
        for k in saved:
            os.environ.pop(k, None)
            if k in env:
                os.environ[k] = env[k]
        conf = runpy.run_path(str(GUNICORN_CONF))
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v
    assert conf["bind"] == f"127.0.0.1:{front['GATEWAY_PORT']}", conf["bind"]
    assert not gateway.get("ports"), "nothing outside the pod may name gunicorn's port"
    # The Service: `http` is the front door's port; no port leads to gunicorn's.
    ports = named_ports(deployment)
    service = of_kind(docs, "Service")["gateway"]
    targets = {p["name"]: ports[p["targetPort"]] if isinstance(p["targetPort"], str)
               else (None, p["targetPort"]) for p in service["spec"]["ports"]}
    assert targets["http"] == ("frontdoor", int(front["PORT"]))
    assert int(env["PORT"]) not in {port for _, port in targets.values()}
    assert all(owner != "gateway" for owner, _ in targets.values())
    # The gateway believes the one X-Forwarded-For hop nginx writes; nginx believes the
    # Gateway's proxies (a list of networks that parses, never empty).
    from gateway.frontdoor import parse_networks

    assert env["TRUSTED_PROXY_COUNT"] == "1"
    assert parse_networks(front.get("TRUSTED_PROXIES") or ""), "TRUSTED_PROXIES is not set"


def _serving(status: int):
    """A local HTTP server answering every GET with `status`, in a thread."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_gateway_pods_probes(docs):
    deployment = gateway_pod(docs)
    for c in pod_spec(deployment)["containers"]:
        assert c.get("livenessProbe") and c.get("readinessProbe"), c["name"]
    # gunicorn on the loopback: the kubelet's httpGet cannot reach it, an exec probe asks.
    gateway = container(deployment, "gateway")
    env = container_env(docs, gateway)
    ready_within = float(env.get("READINESS_TIMEOUT_SECONDS") or re.search(
        r'"READINESS_TIMEOUT_SECONDS", ([\d.]+)', (REPO / "gateway" / "config.py").read_text())[1])
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        spec = gateway[probe]
        command = spec["exec"]["command"]
        assert command[:2] == ["python", "-c"], command
        url, timeout = re.search(r"urlopen\('(http://[^']+)', timeout=([\d.]+)\)",
                                 command[2]).groups()
        assert url == f"http://{env['HOST']}:{env['PORT']}{path}", url
        assert float(timeout) < spec["timeoutSeconds"], "urllib gives up before the kubelet"
        if path == "/readyz":
            assert float(timeout) > ready_within, "the gateway's own ping has time to answer"
        # The command itself, against a server here: a 2xx passes, a 503 fails.
        for status, passes in ((200, True), (503, False)):
            server = _serving(status)
            try:
                local = command[2].replace(f"{env['HOST']}:{env['PORT']}/",
                                           f"127.0.0.1:{server.server_address[1]}/")
                out = subprocess.run([sys.executable, "-c", local], capture_output=True,
                                     check=False, timeout=30)
            finally:
                server.shutdown()
                server.server_close()
            assert (out.returncode == 0) == passes, (probe, status, out.stderr)
    # nginx: alive when it answers its own status page; ready when a request through it
    # reaches the gateway's /readyz.
    frontdoor = container(deployment, "frontdoor")
    assert frontdoor["livenessProbe"]["httpGet"] == {"path": "/stub_status", "port": "status"}
    assert frontdoor["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # mtail and the exporter: each on its own port
    for name in GATEWAY_CONTAINERS[2:]:
        c = container(deployment, name)
        own = {p["name"] for p in c["ports"]}
        for probe in ("livenessProbe", "readinessProbe"):
            assert c[probe]["httpGet"]["port"] in own, (name, probe)


def test_the_gateway_pod_stops_within_its_grace_period(docs, monkeypatch):
    deployment = gateway_pod(docs)
    grace = pod_spec(deployment)["terminationGracePeriodSeconds"]

    def pre_stop(c: dict) -> int:
        return ((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep", {}).get("seconds", 0)

    gateway, frontdoor = container(deployment, "gateway"), container(deployment, "frontdoor")
    graceful = runpy.run_path(str(GUNICORN_CONF))["graceful_timeout"]
    assert pre_stop(gateway) + graceful < grace
    settings = frontdoor_settings(container_env(docs, frontdoor), monkeypatch)
    assert pre_stop(frontdoor) + settings.shutdown_timeout < grace, (
        "NGINX_SHUTDOWN_SECONDS ends the transfers before the kubelet kills nginx")
    assert pre_stop(frontdoor) == pre_stop(gateway), "both keep serving until the proxies know"


def test_mtail_and_the_exporter_watch_this_pods_nginx(docs, monkeypatch):
    from gateway.frontdoor import exporter_command, log_files, mtail_command

    deployment = gateway_pod(docs)
    monkeypatch.setenv("MTAIL_BIN", "/usr/bin/mtail")
    monkeypatch.setenv("NGINX_EXPORTER_BIN", "/usr/bin/prometheus-nginx-exporter")
    frontdoor = container(deployment, "frontdoor")
    front = frontdoor_settings(container_env(docs, frontdoor), monkeypatch)
    counted_by_nginx = str(log_files(front)[0])
    for name, option in (("frontdoor-log-metrics", "--port"),
                         ("frontdoor-nginx-metrics", "-web.listen-address")):
        c = container(deployment, name)
        env = container_env(docs, c)
        assert {"NGINX_PREFIX", "MEDIA_ROOT"} <= set(env), name
        settings = frontdoor_settings(env, monkeypatch)
        port = c["ports"][0]["containerPort"]
        if option == "--port":
            command = mtail_command(settings)
            counted = command[command.index("--logs") + 1]
            assert counted == counted_by_nginx, "mtail counts the file nginx writes"
            # on the one volume both mount at the same place, writable by nginx
            mine, volume = volume_of(deployment, c, counted)
            theirs, nginx_volume = volume_of(deployment, frontdoor, counted)
            assert (mine, volume["name"]) == (theirs, nginx_volume["name"])
            assert "emptyDir" in volume and not nginx_volume["readOnly"]
            # room for the file and its rotated copy
            assert quantity(volume["emptyDir"]["sizeLimit"]) >= 2 * front.log_max_bytes
            assert command[command.index("--port") + 1] == str(port)
            assert command[command.index("--address") + 1] == "0.0.0.0"
        else:
            command = exporter_command(settings)
            assert (f"-nginx.scrape-uri=http://127.0.0.1:{front.status_port}/stub_status"
                    in command), command
            assert f"-web.listen-address=0.0.0.0:{port}" in command, command


def test_the_gateway_writes_uploads_and_nginx_only_reads_media(docs, tmp_path):
    from services.shared.media_layout import SERVED_FOLDERS

    deployment = gateway_pod(docs)
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    [media] = [n for n, v in volumes.items()
               if (v.get("persistentVolumeClaim") or {}).get("claimName") == "media"]
    assert not volumes[media]["persistentVolumeClaim"].get("readOnly")
    mounts = {c["name"]: [m for m in c.get("volumeMounts") or [] if m["name"] == media]
              for c in pod_spec(deployment)["containers"]}
    root = container_env(docs, container(deployment, "gateway"))["MEDIA_ROOT"]
    assert [(m["mountPath"], bool(m.get("readOnly"))) for m in mounts["gateway"]] == [
        (root, False)], "tus uploads are written to MEDIA_ROOT/ingest"
    assert [(m["mountPath"], m.get("readOnly")) for m in mounts["frontdoor"]] == [(root, True)]
    assert not mounts["frontdoor-log-metrics"] and not mounts["frontdoor-nginx-metrics"]
    # The gateway (started first) makes the folders nginx serves from before the front door
    # starts: its postStart hook, run here.
    hook = container(deployment, "gateway")["lifecycle"]["postStart"]["exec"]["command"]
    assert hook[0] == "python"
    out = subprocess.run([sys.executable, *hook[1:]], cwd=REPO, capture_output=True, text=True,
                         check=False, timeout=60,
                         env={**os.environ, "MEDIA_ROOT": str(tmp_path / "media")})
    assert out.returncode == 0, out.stderr
    assert all((tmp_path / "media" / folder).is_dir() for folder in SERVED_FOLDERS)


def test_prometheus_scrapes_the_gateway_pods_three_metrics_ports(docs):
    deployment = gateway_pod(docs)
    service = of_kind(docs, "Service")["gateway"]
    monitor = of_kind(docs, "ServiceMonitor")["gateway"]
    ports, named = {p["name"]: p for p in service["spec"]["ports"]}, named_ports(deployment)
    scraped = {named[ports[e["port"]]["targetPort"]] for e in monitor["spec"]["endpoints"]}
    env = {name: container_env(docs, container(deployment, name))
           for name in GATEWAY_CONTAINERS}
    assert scraped == {
        # the gateway's /metrics, which nginx proxies on its status port
        ("frontdoor", int(env["frontdoor"]["FRONTDOOR_STATUS_PORT"])),
        ("frontdoor-log-metrics", int(env["frontdoor-log-metrics"]["FRONTDOOR_LOG_METRICS_PORT"])),
        ("frontdoor-nginx-metrics",
         int(env["frontdoor-nginx-metrics"]["FRONTDOOR_NGINX_METRICS_PORT"]))}
    assert {port for _, port in scraped} == {9106, 9107, 9113}


# --- the edge: the Gateway API (NGINX Gateway Fabric) in front of the gateway pods --------------

def serving_routes(docs) -> dict[str, dict]:
    """The HTTPRoutes that send requests to a backend (not only redirect)."""
    return {name: r for name, r in of_kind(docs, "HTTPRoute").items()
            if any(rule.get("backendRefs") for rule in r["spec"]["rules"])}


def test_the_edge_routes_the_web_to_the_front_door(overlay, docs):
    gateways = of_kind(docs, "Gateway")
    assert list(gateways) == [EDGE]
    spec = gateways[EDGE]["spec"]
    assert spec["gatewayClassName"] == "nginx", "NGINX Gateway Fabric's class (README.md)"
    listeners = {listener["name"]: listener for listener in spec["listeners"]}
    deployment = gateway_pod(docs)
    service = of_kind(docs, "Service")["gateway"]
    front = container_env(docs, container(deployment, "frontdoor"))
    public = urlsplit(container_env(docs, container(deployment, "gateway"))["PUBLIC_BASE_URL"])
    attached = {}
    for name, route in of_kind(docs, "HTTPRoute").items():
        for parent in route["spec"]["parentRefs"]:
            assert parent["name"] == EDGE and parent.get("kind", "Gateway") == "Gateway"
            assert not parent.get("namespace")
            listener = listeners[parent["sectionName"]]
            assert set(route["spec"]["hostnames"]) <= {listener["hostname"]}, name
            attached.setdefault(name, []).append(listener)
    for name, route in serving_routes(docs).items():
        for rule in route["spec"]["rules"]:
            for ref in rule.get("backendRefs") or []:
                assert (ref.get("kind", "Service"), ref["name"]) == ("Service", "gateway")
                [port] = [p for p in service["spec"]["ports"] if p["port"] == ref["port"]]
                assert named_ports(deployment)[port["targetPort"]] == (
                    "frontdoor", int(front["PORT"])), "the web reaches nginx, nothing else"
        # served where PUBLIC_BASE_URL says
        for listener in attached[name]:
            assert listener["hostname"] == public.hostname
            assert listener["protocol"] == public.scheme.upper(), (name, listener["name"])
    assert serving_routes(docs)
    if public.scheme == "https":
        [https] = [lis for lis in listeners.values() if lis["protocol"] == "HTTPS"]
        assert https["tls"].get("mode", "Terminate") == "Terminate"
        assert [r["name"] for r in https["tls"]["certificateRefs"]] == ["newsreel-tls"]
        # plain HTTP only redirects there
        for name, route in of_kind(docs, "HTTPRoute").items():
            if any(lis["protocol"] == "HTTP" for lis in attached[name]):
                for rule in route["spec"]["rules"]:
                    assert not rule.get("backendRefs"), name
                    assert [f["requestRedirect"]["scheme"] for f in rule["filters"]] == ["https"]
    assert overlay.name != "production" or public.scheme == "https"


def policies_for(docs, kind: str) -> list[dict]:
    """The NGF policies of `kind` attached to a route that serves the gateway, or to the Gateway."""
    serving = set(serving_routes(docs))
    found = []
    for policy in of_kind(docs, kind).values():
        refs = policy["spec"].get("targetRefs") or [policy["spec"]["targetRef"]]
        for ref in refs:
            assert ref["group"] == "gateway.networking.k8s.io"
            if (ref["kind"], ref["name"]) in {("Gateway", EDGE), *(("HTTPRoute", r)
                                                                  for r in serving)}:
                found.append(policy["spec"])
    return found


def test_the_edge_passes_upload_chunks_and_long_transfers(docs, monkeypatch):
    from gateway.frontdoor import render

    deployment = gateway_pod(docs)
    front = frontdoor_settings(container_env(docs, container(deployment, "frontdoor")),
                               monkeypatch)
    gateway_env = container_env(docs, container(deployment, "gateway"))
    from gateway.config import DEFAULT_UPLOAD_CHUNK_MAX_BYTES

    chunk = int(gateway_env.get("UPLOAD_CHUNK_MAX_BYTES") or DEFAULT_UPLOAD_CHUNK_MAX_BYTES)
    assert chunk == front.upload_chunk_max, "nginx and the gateway take the same chunks"
    # The body limit of the Gateway's proxies lets a whole chunk through (NGF's default is 1m).
    [client] = policies_for(docs, "ClientSettingsPolicy")
    assert nginx_size(client["body"]["maxSize"]) >= chunk
    assert nginx_seconds(client["body"]["timeout"]) >= 60
    # They pass downloads on unbuffered, and wait for the front door at least as long as it
    # waits for the gateway (an upload chunk is answered once stored).
    [proxy] = policies_for(docs, "ProxySettingsPolicy")
    assert proxy["buffering"]["disable"] is True
    waits = [nginx_seconds(t) for t in re.findall(r"proxy_read_timeout\s+(\w+);", render(front))]
    assert waits and nginx_seconds(proxy["timeout"]["read"]) >= max(waits)


def ingress_rules(policies: dict, labels: dict, named: dict[str, int]):
    """(peer, ports) for each ingress rule of each policy selecting pods with `labels`: peer {}
    for anyone, named ports resolved with `named` (a name the pod lacks matches nothing)."""
    for policy in policies.values():
        if "Ingress" not in policy["spec"]["policyTypes"] or not selects(
                policy["spec"]["podSelector"], labels):
            continue
        for rule in policy["spec"].get("ingress") or []:
            ports = set()
            for port in rule.get("ports") or [{}]:
                value = port.get("port", "*")
                if isinstance(value, str) and value != "*":
                    if value in named:
                        ports.add(named[value])
                else:
                    ports.add(value)
            for peer in rule.get("from") or [{}]:
                yield peer, ports


def test_only_the_edge_reaches_the_front_door_and_only_prometheus_the_metrics(docs):
    policies = of_kind(docs, "NetworkPolicy")
    deployment = gateway_pod(docs)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    named = {name: port for name, (_, port) in named_ports(deployment).items()}
    admitted: dict[str, set] = {}
    for peer, ports in ingress_rules(policies, labels, named):
        if set(peer) == {"namespaceSelector"} and selects(peer["namespaceSelector"], MONITORING):
            who = "prometheus"
        elif set(peer) == {"podSelector"} and selects(peer["podSelector"], EDGE_POD_LABELS):
            who = "the Gateway's proxies"
        else:
            pytest.fail(f"the gateway pod admits {peer or 'anyone'} on {ports}")
        admitted.setdefault(who, set()).update(ports)
    front = container_env(docs, container(deployment, "frontdoor"))
    assert admitted == {"the Gateway's proxies": {int(front["PORT"])},
                        "prometheus": {9106, 9107, 9113}}
    gunicorn = int(container_env(docs, container(deployment, "gateway"))["PORT"])
    assert all(gunicorn not in ports for ports in admitted.values())
    # The proxies themselves (pods NGF runs in this namespace, under default-deny): the world
    # in on the listeners' ports, out to the front door.
    listeners = {listener["port"] for g in of_kind(docs, "Gateway").values()
                 for listener in g["spec"]["listeners"]}
    from_anyone = {p for peer, ports in ingress_rules(policies, EDGE_POD_LABELS, {})
                   if peer == {} for p in ports}
    assert listeners <= from_anyone
    out = {port.get("port") for p in policies.values()
           if "Egress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"],
                                                               EDGE_POD_LABELS)
           for rule in p["spec"].get("egress") or []
           if any(set(peer) == {"podSelector"} and selects(peer["podSelector"], labels)
                  for peer in rule.get("to") or [])
           for port in rule.get("ports") or []}
    assert out == {int(front["PORT"])}


# --- the image -----------------------------------------------------------------------------------

def test_the_image_has_the_front_door_and_the_portals_packages():
    dockerfile = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    build, runtime = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]

    def installed(stage: str) -> set[str]:
        return {word for words in re.findall(r"apt-get install ([^&\n]+)", stage)
                for word in words.split() if not word.startswith("-")}

    assert {"ffmpeg", "nginx", "mtail", "prometheus-nginx-exporter"} <= installed(runtime)
    assert not {"nodejs", "npm"} & installed(runtime), "no JavaScript runs in the image"
    assert {"nodejs", "npm"} <= installed(build)
    # The portal's packages, vendored as scripts/lib/bootstrap.sh's nr_vendor does.
    bootstrap = (REPO / "scripts" / "lib" / "bootstrap.sh").read_text()
    npm_ci = re.search(r"npm ci(?: --[\w-]+)+", bootstrap)[0]
    assert npm_ci in build, npm_ci
    assert "COPY gateway/static/vendor/package.json gateway/static/vendor/package-lock.json" in (
        build)
    pairs = re.search(r"^NR_VENDOR_FILES=\(([^)]*)\)", bootstrap, re.M)[1]
    for pair in re.findall(r'"([^"]+)"', pairs):
        source, target = pair.split(":")
        assert re.search(rf"cp \S*/node_modules/{re.escape(source)} "
                         rf"gateway/static/vendor/{re.escape(target)}(\s|$)", build), pair


# --- RabbitMQ: the queues the code declares, and who may touch them ------------------------------

def _load(path: str):
    module_name, _, class_name = path.partition(":")
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name)


@functools.cache
def code_topology() -> dict[str, dict]:
    """Per service: its handler queues with their exchange and routing key, and whether it
    answers RPC. From the service classes themselves."""
    from nameko.rpc import Rpc

    from services.shared.topology import handler_queues

    topology = {}
    for service, path in SERVICE_CLASSES.items():
        cls = _load(path)
        rpc = any(isinstance(ep, Rpc) for _, method in vars_of(cls)
                  for ep in getattr(method, "nameko_entrypoints", ()))
        topology[service] = {
            "rpc": rpc,
            "queues": {q.name: (q.exchange.name, q.routing_key) for q in handler_queues(cls)}}
    return topology


def vars_of(cls):
    return inspect.getmembers(cls, inspect.isfunction)


def test_the_broker_declares_what_the_code_consumes(docs):
    queues = {q["spec"]["name"]: q["spec"] for q in of_kind(docs, "Queue").values()}
    bindings = {(b["spec"]["source"], b["spec"]["destination"], b["spec"].get("routingKey", ""))
                for b in of_kind(docs, "Binding").values()}
    exchanges = {e["spec"]["name"]: e["spec"] for e in of_kind(docs, "Exchange").values()}
    wanted = {name: where for t in code_topology().values() for name, where in t["queues"].items()}
    assert set(wanted) == set(queues) - {"newsreel.poison"}
    for name, (exchange, key) in wanted.items():
        assert (exchange, name, key) in bindings, f"{name} is not bound to {exchange} by {key}"
        assert exchanges[exchange]["type"] == "topic" and exchanges[exchange]["durable"]
        assert queues[name]["durable"] is True and queues[name]["vhost"] == "newsreel"
    for service in SERVICE_CLASSES:
        assert f"{service}.events" in exchanges


def test_queues_are_quorum_queues(docs):
    vhost = of_kind(docs, "Vhost")["newsreel"]["spec"]
    assert vhost["defaultQueueType"] == "quorum"
    for queue in of_kind(docs, "Queue").values():
        assert queue["spec"]["type"] == "quorum", queue["spec"]["name"]


class Grants:
    """A user's RabbitMQ permissions on the newsreel vhost, as the broker matches them."""

    def __init__(self, spec: dict):
        self.res = {k: re.compile(v) for k, v in spec["permissions"].items()}

    def can(self, what: str, resource: str) -> bool:
        return bool(self.res[what].search(resource))


@pytest.fixture
def grants(docs) -> dict[str, Grants]:
    users = of_kind(docs, "User")
    found = {}
    for p in of_kind(docs, "Permission").values():
        assert p["spec"]["vhost"] == "newsreel"
        assert p["spec"]["userReference"]["name"] in users
        found[p["spec"]["userReference"]["name"]] = Grants(p["spec"])
    assert set(found) == set(users)
    return found


def test_each_process_connects_as_its_own_user(docs):
    users = of_kind(docs, "User")
    for name, deployment in of_kind(docs, "Deployment").items():
        app = pod_spec(deployment)["containers"][0]
        env = {e["name"]: e for e in app["env"]}
        secret = env["AMQP_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        assert env["AMQP_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == secret
        user = users[AMQP_USER_OF[name]]
        assert user["spec"]["importCredentialsSecret"]["name"] == secret, name
        assert not user["spec"].get("tags"), f"{name}'s user needs no management access"


def test_each_service_may_do_what_its_code_does(grants):
    for service, topology in code_topology().items():
        g = grants[f"newsreel-{service}"]
        for queue, (exchange, _key) in topology["queues"].items():
            for suffix in ("", ".retry.1000", ".retry.600000", ".dlq"):
                assert g.can("configure", queue + suffix), (service, queue + suffix)
                assert g.can("read", queue + suffix), (service, queue + suffix)
                assert g.can("write", queue + suffix), (service, queue + suffix)
            assert g.can("configure", exchange) and g.can("read", exchange), (service, exchange)
            assert g.can("write", "amq.default"), "retries go through the default exchange"
        own = f"{service}.events"  # the outbox relay declares it and publishes there
        assert g.can("configure", own) and g.can("write", own), (service, own)
        if topology["rpc"]:
            for what in ("configure", "read", "write"):
                assert g.can(what, f"rpc-{service}") and g.can(what, "nameko-rpc"), service
        else:
            assert not g.can("read", f"rpc-{service}")
    gateway = grants["newsreel-gateway"]
    reply = "rpc.reply-standalone_rpc_proxy-0b5f6c3e-8a1d-4f0e-9c52-3f1b2a7d9e10"
    for what in ("configure", "read", "write"):
        assert gateway.can(what, reply) and gateway.can(what, "nameko-rpc")
    assert not any(gateway.can(w, "auth.events") for w in ("configure", "read", "write"))


def test_least_privilege_on_the_bus(docs, grants):
    everyone = set(grants)
    # The verification codes' queue: the mailer alone reads it.
    assert {u for u in everyone if grants[u].can("read", CODE_QUEUE)} == {"newsreel-mailer"}
    # Nobody but its owner may publish to (write) or declare/delete (configure) an exchange.
    for service in SERVICE_CLASSES:
        exchange = f"{service}.events"
        assert {u for u in everyone if grants[u].can("write", exchange)} == {
            f"newsreel-{service}"}, exchange
    # Each service reads its own queues only.
    for service, topology in code_topology().items():
        for other in SERVICE_CLASSES:
            if other == service:
                continue
            for queue in topology["queues"]:
                assert not grants[f"newsreel-{other}"].can("read", queue), (other, queue)
    # KEDA reads depths over the management API and touches nothing.
    keda = grants["newsreel-keda"]
    assert not any(keda.can(w, r) for w in ("configure", "read", "write")
                   for r in (CODE_QUEUE, JOB_QUEUE, "auth.events", "team.x", "amq.default"))


def test_the_read_only_user_for_internal_teams(docs, grants):
    ro = grants["newsreel-readonly"]
    for exchange in ("auth.events", "catalog.events", "mailer.events", "transcoder.events"):
        assert ro.can("read", exchange)
        assert not ro.can("write", exchange) and not ro.can("configure", exchange)
    for queue in ("team.archive", "team.search-index"):
        assert ro.can("configure", queue) and ro.can("write", queue) and ro.can("read", queue)
    for name in (CODE_QUEUE, JOB_QUEUE, "rpc-auth", "nameko-rpc", "amq.default", "evt-x--team.y",
                 "teamx", "newsreel.poison", "auth.events.x"):
        assert not any(ro.can(w, name) for w in ("configure", "write", "read")), name
    # Topic permissions: the codes' routing key (and any wildcard) cannot be bound on auth.events.
    topic = [t["spec"] for t in of_kind(docs, "TopicPermission").values()
             if t["spec"]["userReference"]["name"] == "newsreel-readonly"]
    assert [t["permissions"]["exchange"] for t in topic] == ["auth.events"]
    read = re.compile(topic[0]["permissions"]["read"])
    for key in ("verification_code.issued.v1", "#", "*.v1", "verification_code.#", "*.*.*"):
        assert not read.search(key), key
    for key in ("account.registered.v1", "newsletter.subscription_changed.v1"):
        assert read.search(key), key


# --- metrics: alerts and dashboard name what the code exposes ------------------------------------

TARGET_LABELS = {"job", "instance", "namespace", "pod", "container", "le"}


@functools.cache
def code_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """Exposed series name -> (declared metric, its labels), from every Counter, Gauge and
    Histogram declared in services/ and gateway/ (tests excluded)."""
    exposed = {}
    for root in ("services", "gateway"):
        for path in (REPO / root).rglob("*.py"):
            if "tests" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id in ("Counter", "Gauge", "Histogram", "Summary")
                        and node.args and isinstance(node.args[0], ast.Constant)
                        and str(node.args[0].value).startswith("newsreel_")):
                    continue
                name = node.args[0].value
                label_node = node.args[2] if len(node.args) > 2 else next(
                    (k.value for k in node.keywords if k.arg == "labelnames"), None)
                labels = frozenset(e.value for e in getattr(label_node, "elts", []))
                kind = node.func.id
                if kind == "Counter":
                    base = name.removesuffix("_total")
                    series = [f"{base}_total", f"{base}_created"]
                elif kind in ("Histogram", "Summary"):
                    series = [name, *(f"{name}_{s}" for s in ("bucket", "count", "sum",
                                                               "created"))]
                else:
                    series = [name]
                for s in series:
                    exposed[s] = (name, labels)
    exposed.update(mtail_metrics())
    return exposed


MTAIL_PROGRAMS = REPO / "gateway" / "frontdoor" / "mtail"


@functools.cache
def mtail_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """The front door's metrics, declared in mtail's programs (gateway/frontdoor/mtail), as
    mtail exposes them: a counter or gauge under its own name, a histogram as _bucket, _sum
    and _count; no prog label (the runner passes --emit_prog_label=false)."""
    exposed = {}
    for path in sorted(MTAIL_PROGRAMS.glob("*.mtail")):
        declarations = re.findall(
            r"^(counter|gauge|histogram)\s+([a-z_][a-z0-9_]*)(?:\s+by\s+(.+?))?"
            r"(?:\s+buckets\s+.*)?\s*$", path.read_text(), re.M)
        for kind, name, by in declarations:
            labels = frozenset(label.strip() for label in by.split(",") if label.strip())
            series = [f"{name}_{s}" for s in ("bucket", "sum", "count")] if (
                kind == "histogram") else [name]
            for s in series:
                exposed[s] = (name, labels)
    return exposed


# prometheus-nginx-exporter's metrics from nginx's stub_status (no labels but the target's), as
# Debian 12's prometheus-nginx-exporter 0.11.0 serves them (read from its /metrics in front of
# our nginx): the names an alert or a panel may use besides ours.
NGINX_EXPORTER_METRICS = frozenset({
    "nginx_up", "nginx_connections_accepted", "nginx_connections_active",
    "nginx_connections_handled", "nginx_connections_reading", "nginx_connections_waiting",
    "nginx_connections_writing", "nginx_http_requests_total"})


def known_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    return {**{m: (m, frozenset()) for m in NGINX_EXPORTER_METRICS}, **code_metrics()}


def test_the_front_doors_metrics_are_read_from_its_mtail_program():
    mtail = mtail_metrics()
    kinds = {name for name, _ in mtail.values()}
    assert kinds == {"newsreel_frontdoor_requests_total", "newsreel_frontdoor_sent_bytes_total",
                     "newsreel_frontdoor_received_bytes_total",
                     "newsreel_frontdoor_cut_short_total", "newsreel_frontdoor_request_seconds"}
    assert mtail["newsreel_frontdoor_requests_total"][1] == {"kind", "status"}
    assert mtail["newsreel_frontdoor_request_seconds_bucket"][1] == {"kind"}
    assert "newsreel_frontdoor_request_seconds" not in mtail, "a histogram has no bare series"


def test_the_metrics_the_brief_names_are_exposed():
    declared = {name for name, _ in code_metrics().values()}
    for name in ("newsreel_entrypoint_calls_total", "newsreel_entrypoint_errors_total",
                 "newsreel_entrypoint_latency_seconds", "newsreel_events_published_total",
                 "newsreel_events_consumed_total", "newsreel_outbox_backlog",
                 "newsreel_messages_dead_lettered_total", "newsreel_jobs_total",
                 "newsreel_job_seconds", "newsreel_job_queue_length", "newsreel_jobs_in_progress",
                 "newsreel_mails_total", "newsreel_gateway_requests_total",
                 "newsreel_gateway_request_latency_seconds"):
        assert name in declared, name
    assert code_metrics()["newsreel_mails_total"][1] == {"kind", "outcome"}
    assert code_metrics()["newsreel_gateway_requests_total"][1] == {"endpoint", "method",
                                                                    "status"}


OURS = r"\b(?:newsreel|nginx)_[a-z0-9_]+"


def promql_problems(expr: str) -> list[str]:
    problems = []
    used = set(re.findall(OURS, expr))
    metrics = known_metrics()
    for series in used:
        if series not in metrics:
            problems.append(f"{series} is exposed by no code")
    known = set().union(*(metrics[s][1] for s in used if s in metrics)) | TARGET_LABELS
    for series, matchers in re.findall(rf"({OURS})\{{([^}}]*)\}}", expr):
        if series in metrics:
            for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers):
                if label not in metrics[series][1] | TARGET_LABELS:
                    problems.append(f"{series} has no label {label}")
    # `by (...)` labels, when every metric in the expression is ours
    if used and not re.search(r"\b(?!newsreel_|nginx_)[a-z]+_[a-z_]+\{", expr) and (
            "up{" not in expr):
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            for label in filter(None, (g.strip() for g in group.split(","))):
                if label not in known:
                    problems.append(f"by ({label}): no such label on {sorted(used)}")
    return problems


def test_alerts_use_metrics_the_code_exposes(docs):
    rules = [r for rule in of_kind(docs, "PrometheusRule").values()
             for group in rule["spec"]["groups"] for r in group["rules"]]
    assert len(rules) >= 10
    problems = [f"{r['alert']}: {p}" for r in rules for p in promql_problems(str(r["expr"]))]
    assert not problems, "\n".join(problems)
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning"), r["alert"]
        assert r["annotations"]["summary"], r["alert"]
    jobs = {m for r in rules for m in re.findall(r'job=~?"([^"]+)"', str(r["expr"]))}
    assert "|".join(APP) in jobs, "NewsreelServiceDown watches every process"


def test_the_dashboard_shows_every_metric_the_code_exposes(docs):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    problems = [f"{expr}: {p}" for expr in exprs for p in promql_problems(expr)]
    assert not problems, "\n".join(problems)
    shown = {code_metrics()[s][0] for e in exprs for s in re.findall(r"\bnewsreel_[a-z0-9_]+", e)}
    assert shown == {name for name, _ in code_metrics().values()}
    generated = of_kind(docs, "ConfigMap")["newsreel-grafana-dashboard"]
    assert json.loads(generated["data"]["grafana-dashboard.json"]) == dashboard
    assert generated["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_promql_check_catches_a_wrong_name_or_label():
    assert promql_problems("rate(newsreel_mails_total{outcom='failed'}[5m])")
    assert promql_problems("rate(newsreel_mail_total[5m])")
    assert promql_problems("sum by (queue) (rate(newsreel_mails_total[5m]))")
    assert not promql_problems("sum by (kind) (rate(newsreel_mails_total{outcome='failed'}[5m]))")
    # the front door's: mtail's and the exporter's
    assert not promql_problems(
        'sum by (kind) (rate(newsreel_frontdoor_sent_bytes_total{kind="upload"}[5m]))')
    assert promql_problems("sum by (method) (rate(newsreel_frontdoor_requests_total[5m]))")
    assert promql_problems("rate(newsreel_frontdoor_request_seconds[5m])")
    assert not promql_problems('sum(nginx_connections_writing{job="gateway"})')
    assert promql_problems('sum(nginx_connection_writing{job="gateway"})')
    assert promql_problems('nginx_up{kind="x"}')


def test_the_image_runs_as_the_pods_user_and_commands_are_exec_form(docs):
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M), "numeric, for runAsNonRoot"
    for name, deployment in of_kind(docs, "Deployment").items():
        assert pod_spec(deployment)["securityContext"]["runAsUser"] == 10001, name
        for c in containers(deployment):
            # a list, no shell in between: SIGTERM reaches Python
            assert isinstance(c["command"], list) and c["command"][0] in ("python", "gunicorn")
            assert c["image"].split("@")[0].rsplit(":", 1)[0].endswith("newsreel"), name


# --- checkov -------------------------------------------------------------------------------------

def checkov_skips(overlay: Path) -> dict[str, str]:
    """The checks the overlay's checkov.yaml skips, each with the reason written beside it."""
    config = overlay / "checkov.yaml"
    assert config.exists(), f"{overlay.name}: no checkov.yaml"
    reasons = {}
    for line in config.read_text().splitlines():
        match = re.match(r"\s*-\s*(CKV_[A-Z0-9_]+)\s*#\s*(.+)", line)
        if match:
            reasons[match.group(1)] = match.group(2).strip()
    skipped = yaml.safe_load(config.read_text()).get("skip-check") or []
    assert set(skipped) == set(reasons), "every skipped check has its reason on its line"
    return reasons


def test_checkov_finds_nothing_unexplained(overlay, tmp_path):
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}. ./scripts/test installs it "
                    "(scripts/lib/bootstrap.sh, nr_checkov); by hand: python3.11 -m venv "
                    "var/tools/checkov && var/tools/checkov/bin/pip install "
                    "-r deploy/tools/checkov-requirements.txt")
    text, _ = rendered(overlay)
    manifest = tmp_path / f"{overlay.name}.yaml"
    manifest.write_text(text)
    skips = checkov_skips(overlay)
    readme = K8S_README.read_text()
    for check, reason in skips.items():
        assert re.search(rf"\|\s*`?{check}`?\s*\|[^\n]*{overlay.name}", readme), (
            f"{check} (skipped in {overlay.name}: {reason}) is not in deploy/k8s/README.md's table")
    # No network: --skip-download keeps it from asking Prisma Cloud for anything.
    out = subprocess.run(
        [str(CHECKOV), "--config-file", str(overlay / "checkov.yaml"), "-f", str(manifest),
         "--framework", "kubernetes", "--skip-download", "--quiet", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=300,
        env={**os.environ, "BC_API_KEY": "", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not report (exit {out.returncode}):\n{out.stderr[-3000:]}")
    reports = report if isinstance(report, list) else [report]
    failed = [f"{c['check_id']} {c['check_name']}: {c['resource']}"
              for r in reports for c in (r.get("results") or {}).get("failed_checks", [])]
    assert not failed, "checkov:\n" + "\n".join(failed)
    summary = [r["summary"] for r in reports if "summary" in r]
    assert summary and sum(s["passed"] for s in summary) > 100, summary
    assert all(s["parsing_errors"] == 0 for s in summary), summary


def test_the_auth_pods_memory_limit_holds_the_argon2_hashes_it_lets_run_at_once(docs):
    """Issue 10, point 7: AUTH_HASHES_IN_FLIGHT hashes of memory_cost each, plus the process
    itself, fit the auth container's memory limit (tests/test_auth_memory.py measures it)."""
    from argon2 import PasswordHasher

    from services.auth import entrypoint

    [auth] = [c for c in containers(of_kind(docs, "Deployment")["auth"]) if c["name"] == "auth"]
    in_flight = int(container_env(docs, auth).get(
        "AUTH_HASHES_IN_FLIGHT", entrypoint.HASHES_IN_FLIGHT))
    limit = auth["resources"]["limits"]["memory"]
    assert limit.endswith("Mi"), limit
    hash_mib = PasswordHasher().memory_cost // 1024
    assert entrypoint.PROCESS_BASE_MIB + in_flight * hash_mib <= int(limit[:-2]), (
        f"{in_flight} hashes of {hash_mib} MiB + {entrypoint.PROCESS_BASE_MIB} MiB > {limit}")


# --- issue 10, point 8: AMQP over TLS (cert-manager), RPC queues classic -------------------------

AMQP_TLS_PORT = 5671


def broker_tls(docs) -> tuple[dict, dict]:
    """The RabbitmqCluster's document, and the spec of the Certificate whose Secret is its TLS."""
    rabbit = of_kind(docs, "RabbitmqCluster")["newsreel-rabbitmq"]
    secret = rabbit["spec"]["tls"]["secretName"]
    [server] = [c["spec"] for c in of_kind(docs, "Certificate").values()
                if c["spec"]["secretName"] == secret]
    return rabbit, server


def test_the_broker_has_a_certificate_from_a_ca_of_our_own(docs):
    rabbit, server = broker_tls(docs)
    certificates, issuers = of_kind(docs, "Certificate"), of_kind(docs, "Issuer")
    assert "server auth" in server["usages"]
    assert server["privateKey"]["rotationPolicy"] == "Always"
    # issued by a CA Issuer whose CA certificate is self-signed by cert-manager
    ca_secret = issuers[server["issuerRef"]["name"]]["spec"]["ca"]["secretName"]
    [ca] = [c["spec"] for c in certificates.values() if c["spec"]["secretName"] == ca_secret]
    assert ca["isCA"] is True and "selfSigned" in issuers[ca["issuerRef"]["name"]]["spec"]
    # the names the clients use (the ConfigMap's AMQP_HOST, in the namespace) are on it
    host = of_kind(docs, "ConfigMap")["newsreel-config"]["data"]["AMQP_HOST"]
    namespace = rabbit["metadata"]["namespace"]
    assert {host, f"{host}.{namespace}.svc", f"{host}.{namespace}.svc.cluster.local"} <= set(
        server["dnsNames"])


def test_every_process_speaks_amqps_and_verifies_the_broker(docs, monkeypatch):
    from services.shared import config

    rabbit, _server = broker_tls(docs)
    tls_secret = rabbit["spec"]["tls"]["secretName"]
    ca_secrets = {i["spec"]["ca"]["secretName"] for i in of_kind(docs, "Issuer").values()
                  if "ca" in i["spec"]}
    for name, deployment in of_kind(docs, "Deployment").items():
        app = pod_spec(deployment)["containers"][0]
        env = container_env(docs, app)
        uri = urlsplit(env["AMQP_URI"])
        assert (uri.scheme, uri.hostname, uri.port) == ("amqps", env["AMQP_HOST"],
                                                          AMQP_TLS_PORT), name
        # the CA certificate alone (never the broker's key) read-only where AMQP_CA_FILE says
        ca_file = Path(env["AMQP_CA_FILE"])
        [mount] = [m for m in app.get("volumeMounts") or []
                   if m["mountPath"] == str(ca_file.parent)]
        assert mount.get("readOnly") is True, name
        volume = {v["name"]: v for v in pod_spec(deployment)["volumes"]}[mount["name"]]
        assert volume["secret"]["secretName"] == tls_secret, name
        assert volume["secret"]["items"] == [{"key": "ca.crt", "path": ca_file.name}], name
        # no pod holds the CA's own Secret (its key signs certificates)
        mounted = {v.get("secret", {}).get("secretName") for v in pod_spec(deployment)["volumes"]}
        assert not mounted & ca_secrets, name
        # and what the process makes of that environment: the chain and the name checked
        for key in ("AMQP_URI", "AMQP_CA_FILE"):
            monkeypatch.setenv(key, env[key])
        options = config.amqp_ssl()
        assert options["ca_certs"] == env["AMQP_CA_FILE"], name
        assert options["cert_reqs"] == ssl.CERT_REQUIRED and options["server_hostname"] is None


def test_only_the_brokers_tls_port_is_open_to_the_processes(docs):
    """The operator keeps the plain listener (its management API's plain port serves the
    messaging-topology operator and KEDA); no process may reach 5672."""
    policies = of_kind(docs, "NetworkPolicy")
    deployments = of_kind(docs, "Deployment")
    for name, deployment in deployments.items():
        ports = egress_ports(policies, deployment["spec"]["template"]["metadata"]["labels"])
        assert AMQP_TLS_PORT in ports and 5672 not in ports, name
    broker = policies["rabbitmq"]["spec"]
    for rule in broker["ingress"]:
        admits_ours = any(selects(peer["podSelector"], d["spec"]["template"]["metadata"]["labels"])
                          for peer in rule["from"] if "podSelector" in peer
                          for d in deployments.values())
        if admits_ours:
            assert {p["port"] for p in rule["ports"]} == {AMQP_TLS_PORT}


def test_rpc_queues_are_classic_whatever_the_vhosts_default(docs):
    """The vhost makes every durable queue declared without a type a quorum queue (a Raft log on
    disk on every node); the RPC queues, which carry passwords and tokens, name their type."""
    from services.shared import nameko_fixes

    assert of_kind(docs, "Vhost")["newsreel"]["spec"]["defaultQueueType"] == "quorum"
    request = nameko_fixes.rpc_request_queue("auth", {})
    reply = nameko_fixes.rpc_reply_queue("standalone_rpc_proxy", "0b5f6c3e", {})
    for queue in (request, reply):
        assert queue.queue_arguments["x-queue-type"] == "classic", queue.name
    assert (reply.durable, reply.exclusive, reply.auto_delete) == (False, True, True)
    # the names the users' permissions grant are the names declared
    grants = {p["spec"]["userReference"]["name"]: Grants(p["spec"])
              for p in of_kind(docs, "Permission").values()}
    assert grants["newsreel-auth"].can("configure", request.name)
    assert grants["newsreel-gateway"].can("configure", reply.name)
