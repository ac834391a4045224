"""The event contract (contract/) checked against itself: every schema a valid draft 2020-12
schema naming its event, every example valid, the AsyncAPI document and the README in step
with the schema files; and the harness holding the services to it (at `NewsreelSystem.close()`).
"""

from __future__ import annotations

import ast
import copy
import json
import re
import sys
from pathlib import Path

import pika
import pytest
import yaml
from jsonschema import Draft202012Validator

from contract import validate as contract
from tests.support.processes import REPO_ROOT
from tests.support.rabbit import harness_params
from tests.support.system import NewsreelSystem

CONTRACT = Path(contract.__file__).resolve().parent
ENVELOPE = ["specversion", "id", "source", "type", "time", "datacontenttype", "subject", "data"]
SCHEMA_FILES = sorted(contract.EVENTS_DIR.glob("*.schema.json"))
EVENT_TYPES = [path.name.removesuffix(".schema.json") for path in SCHEMA_FILES]


def example(event_type: str) -> dict:
    return json.loads(contract.example_path(event_type).read_text())


def emitted_event_types() -> dict[str, list[str]]:
    """Event type → where the services write it: every `outbox.add(session, <type>, …)` in the
    services' code, read from the code itself so that a new event cannot ship without its
    schema. The type is a string literal or a module-level constant holding one; any other
    form fails here rather than going unseen."""
    found: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "services").rglob("*.py")):
        if "tests" in path.relative_to(REPO_ROOT).parts:
            continue
        tree = ast.parse(path.read_text(), str(path))
        constants = {target.id: node.value.value for node in tree.body
                     if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                     and isinstance(node.value.value, str)
                     for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add" and _names_outbox(node.func.value)):
                continue
            where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
            assert len(node.args) >= 2, f"{where}: outbox.add without an event type"
            kind = node.args[1]
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                event_type = kind.value
            elif isinstance(kind, ast.Name) and kind.id in constants:
                event_type = constants[kind.id]
            else:
                raise AssertionError(f"{where}: the event type is not a literal or a constant")
            found.setdefault(event_type, []).append(where)
    return found


def _names_outbox(node) -> bool:
    return (isinstance(node, ast.Name) and node.id == "outbox") or \
        (isinstance(node, ast.Attribute) and node.attr == "outbox")


def test_the_contract_covers_the_events_the_services_publish():
    emitted = emitted_event_types()
    # the reader above finds the outbox writes of every publishing service
    assert {contract.service_of(t) for t in EVENT_TYPES} == {
        where.split("/")[1] for places in emitted.values() for where in places}
    assert sorted(emitted) == EVENT_TYPES, (
        f"emitted without a schema: {sorted(set(emitted) - set(EVENT_TYPES))}; "
        f"a schema for nothing emitted: {sorted(set(EVENT_TYPES) - set(emitted))}")
    assert [t for t in EVENT_TYPES if contract.is_internal(t)] == ["job.queued.v1"]


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_schema_is_a_valid_2020_12_schema_of_a_cloudevent(event_type):
    schema = contract.schema_of(event_type)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    service = contract.service_of(event_type)
    assert contract.exchange_of(event_type) in contract.EXCHANGES
    properties = schema["properties"]
    assert properties["type"]["const"] == f"newsreel.{service}.{event_type}"
    assert properties["source"]["const"] == f"/services/{service}"
    assert properties["specversion"]["const"] == "1.0"
    assert schema["required"] == ENVELOPE
    data = properties["data"]
    assert data["type"] == "object" and data["required"]
    assert set(data["required"]) <= set(data["properties"])
    # adding a field is a compatible change: no object in the contract may close itself
    assert '"additionalProperties": false' not in json.dumps(schema)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_example_validates_against_its_schema(event_type):
    event = example(event_type)
    Draft202012Validator(contract.schema_of(event_type),
                         format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event)
    assert contract.problems(event) == []
    assert contract.message_problems(json.dumps(event).encode(), event_type) == []


def test_every_example_has_its_schema():
    examples = sorted(p.name.removesuffix(".example.json")
                      for p in contract.EVENTS_DIR.glob("*.example.json"))
    assert examples == EVENT_TYPES
    assert sorted(p.name for p in contract.EVENTS_DIR.iterdir()) == sorted(
        [f"{t}.schema.json" for t in EVENT_TYPES] + [f"{t}.example.json" for t in EVENT_TYPES])


def test_the_schemas_refuse_what_breaks_the_contract_and_accept_new_fields():
    event = example("news.published.v1")
    extended = copy.deepcopy(event)
    extended["data"]["video_count"] = 1          # a new field: compatible
    extended["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert contract.problems(extended) == []

    broken = copy.deepcopy(event)
    del broken["data"]["news_id"]
    broken["data"]["video_ids"] = [7]
    broken["time"] = "yesterday"
    found = contract.problems(broken)
    assert any("'news_id' is a required property" in p for p in found), found
    assert any(p.startswith("$.data.video_ids[0]: 7 is not of type 'string'") for p in found)
    assert any(p.startswith("$.time:") for p in found)

    assert contract.problems(event, "video.ingested.v1")   # another type's routing key
    assert "no schema for event type 'kettle.boiled.v1'" in contract.problems(
        {**event, "type": "newsreel.catalog.kettle.boiled.v1"})[0]
    assert contract.message_problems(b"{not json", "news.published.v1")[0].startswith(
        "body is not JSON")
    assert "content type 'application/json'" in contract.message_problems(
        json.dumps(event), "news.published.v1", "application/json")[0]

    code = example("verification_code.issued.v1")
    code["data"]["code"] = "123456"                 # a secret in clear on the bus
    assert any("does not allow '123456'" in p for p in contract.problems(code))
    code = example("verification_code.issued.v1")
    code["data"]["sealed"] = "123456"
    assert contract.problems(code)


# --- the AsyncAPI document ---------------------------------------------------------------------

def load_asyncapi() -> dict:
    return yaml.safe_load((CONTRACT / "asyncapi.yaml").read_text())


def resolve_local(document: dict, ref: str):
    """`#/components/messages/x` → the object it points at (JSON pointer)."""
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs_in(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in refs_in(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs_in(v)]
    return []


def test_the_asyncapi_document_describes_every_event_and_its_references_resolve():
    document = load_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    assert document["defaultContentType"] == contract.CONTENT_TYPE

    referenced_files = set()
    for ref in refs_in(document):
        if ref.startswith("#/"):
            resolve_local(document, ref)                 # raises if it points at nothing
        else:
            target = (CONTRACT / ref).resolve()
            assert target.is_file(), f"{ref} does not exist"
            referenced_files.add(target)

    messages = document["components"]["messages"]
    assert sorted(messages) == EVENT_TYPES
    payload_files = set()
    for name, message in messages.items():
        assert message["name"] == name
        assert message["contentType"] == contract.CONTENT_TYPE
        assert message["payload"]["schemaFormat"] == "application/schema+json;version=2020-12"
        target = (CONTRACT / message["payload"]["schema"]["$ref"]).resolve()
        assert target == contract.schema_path(name).resolve(), name
        assert json.loads(target.read_text())["properties"]["type"]["const"].endswith(name)
        payload_files.add(target)
        assert ("internal" in [t["name"] for t in message.get("tags", [])]) == \
            contract.is_internal(name)
    assert payload_files == {p.resolve() for p in SCHEMA_FILES} == referenced_files

    bindings = document["components"]["channelBindings"]
    assert sorted(bindings) == sorted(contract.EXCHANGES)
    for name, binding in bindings.items():
        assert binding["amqp"]["is"] == "routingKey"
        assert binding["amqp"]["exchange"] == {"name": name, "type": "topic", "durable": True,
                                               "autoDelete": False, "vhost": "/"}

    channels = document["channels"]
    assert sorted(channels) == EVENT_TYPES
    for name, channel in channels.items():
        assert channel["address"] == name                # the routing key is the event type
        [message] = channel["messages"].values()
        assert resolve_local(document, message["$ref"]) is messages[name]
        exchange = resolve_local(document, channel["bindings"]["$ref"])["amqp"]["exchange"]
        assert exchange["name"] == contract.exchange_of(name)

    operations = document["operations"]
    assert len(operations) == len(EVENT_TYPES)
    sent = set()
    for operation_id, operation in operations.items():
        assert operation["action"] == "send"
        channel = resolve_local(document, operation["channel"]["$ref"])
        [message] = [resolve_local(document, m["$ref"]) for m in operation["messages"]]
        sent.add(channel["address"])
        assert resolve_local(document, message["$ref"])["name"] == channel["address"]
        assert operation_id == f"{contract.service_of(channel['address'])}.sends." \
                               f"{channel['address']}"
    assert sorted(sent) == EVENT_TYPES


def test_the_readme_lists_every_event_and_the_read_only_users_rights():
    readme = (CONTRACT / "README.md").read_text()
    for event_type in EVENT_TYPES:
        assert f"`{event_type}`" in readme, event_type
    user = json.loads((CONTRACT / "rabbitmq-readonly-user.json").read_text())
    assert user["user"] == "newsreel-readonly"
    rights = user["permissions"]
    assert (f"set_permissions -p / newsreel-readonly '{rights['configure']}' "
            f"'{rights['write']}' '{rights['read']}'") in readme
    assert re.fullmatch(rights["read"], "catalog.events")
    assert re.fullmatch(rights["configure"], "team.archive")
    assert not re.search(rights["write"], "catalog.events")


# --- the harness holds the services to the contract -------------------------------------------

STUB = r"""
import http.server, json, os, signal, sys, threading, uuid
import pika

name = sys.argv[1]
port = int(os.environ["METRICS_PORT"])

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"up 1\n")
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
connection = pika.BlockingConnection(pika.URLParameters(os.environ["AMQP_URI"]))
channel = connection.channel()
channel.exchange_declare(f"{name}.events", "topic", durable=True)
event = json.loads(sys.stdin.read()) if name == "catalog" else None
if event is not None:   # the catalog stand-in publishes what the test gave it, as a service
    channel.basic_publish("catalog.events", "news.published.v1", json.dumps(event).encode(),
                          pika.BasicProperties(content_type="application/cloudevents+json"))
channel.basic_publish(f"{name}.events", f"{name}.started.v1", b"{}",
                      pika.BasicProperties(content_type="application/cloudevents+json"))
signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
print(f"{name} started, metrics on :{port}", flush=True)
while True:
    connection.process_data_events(time_limit=0.2)
"""

STUB_GATEWAY = r"""
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
port = int(os.environ["GATEWAY_PORT"])  # behind the real front door
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


@pytest.mark.integration
def test_a_service_event_that_breaks_its_schema_fails_the_test_at_close(tmp_path, smtp):
    broken = example("news.published.v1")
    broken["id"] = "broken-by-the-service"
    broken["data"]["languages"] = "fr"
    (tmp_path / "event.json").write_text(json.dumps(broken))
    (tmp_path / "stub.py").write_text(STUB)
    (tmp_path / "gateway.py").write_text(STUB_GATEWAY)
    stub = [sys.executable, str(tmp_path / "stub.py")]
    commands = {
        "migrate": [sys.executable, "-c", "pass"],
        "auth": [*stub, "auth"], "mailer": [*stub, "mailer"],
        # the stand-in reads the event to publish from stdin
        "catalog": ["sh", "-c", f'exec "$0" "$@" < {tmp_path / "event.json"}', *stub,
                    "catalog"],
        "gateway": [sys.executable, str(tmp_path / "gateway.py")],
    }
    system = NewsreelSystem(backend="sqlite", tmp_path=tmp_path / "sys", smtp=smtp,
                            commands=commands, check_events=True)
    try:
        system.start()
        # what a test publishes itself is not held to the contract
        injected = {**broken, "id": "injected-by-the-test"}
        system.vhost.publish("catalog.events", "news.published.v1", json.dumps(injected),
                             content_type=contract.CONTENT_TYPE)
        tap = system.tap(["catalog.events"])
        with pika.BlockingConnection(harness_params(system.vhost.amqp_uri, "x")) as connection:
            connection.channel().basic_publish(
                "catalog.events", "news.published.v1", json.dumps(example("news.published.v1")),
                pika.BasicProperties(content_type=contract.CONTENT_TYPE))
        tap.wait_for("news.published.v1", timeout=10)
        system.wait_until(lambda: len(system.contract_problems()) == 4, timeout=10,
                          message=f"{system.contract_problems()}")
    finally:
        with pytest.raises(AssertionError) as failed:
            system.close()
    report = str(failed.value)
    assert "break the contract" in report
    assert "news.published.v1 (event id 'broken-by-the-service'), against " \
           "news.published.v1.schema.json:\n  - $.data.languages: 'fr' is not of type " \
           "'array'" in report
    for name in ("auth", "mailer", "catalog"):
        assert f"{name}.started.v1 (event id None), against no schema:" in report
        assert f"no schema for event type '{name}.started.v1'" in report
    assert "injected-by-the-test" not in report
