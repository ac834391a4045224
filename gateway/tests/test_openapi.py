"""The OpenAPI document describes every API route, is valid OpenAPI 3.1, and publishes the
very schemas that requests are validated against."""

import pytest
import schemathesis
from jsonschema import Draft202012Validator

from gateway import schemas
from gateway.errors import ERRORS
from gateway.operations import OPERATIONS
from gateway.terms import TERMS_VERSION


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def test_it_is_a_valid_openapi_3_1_document(document):
    try:
        from openapi_spec_validator import validate
    except ImportError:  # not a pinned dependency: schemathesis carries the OAS 3.1 meta-schema
        schemathesis.openapi.from_dict(document).validate()
    else:
        validate(document)
    assert document["openapi"].startswith("3.1.")


def test_every_api_route_is_documented(app, document):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"].get(path, {}), f"{method} {path}"


def test_the_published_request_schemas_are_the_validation_schemas(document):
    for op in OPERATIONS:
        published = document["paths"][op.openapi_path][op.method.lower()]
        if op.raw_body is not None:  # a protocol's own bytes (tus chunks), read by the view
            assert list(published["requestBody"]["content"]) == [op.raw_body["media_type"]]
            continue
        if op.body is None:
            assert "requestBody" not in published
            continue
        assert published["requestBody"]["content"]["application/json"]["schema"] == op.body


def test_every_schema_is_valid_draft_2020_12():
    for name in dir(schemas):
        value = getattr(schemas, name)
        if name.isupper() and isinstance(value, dict):
            Draft202012Validator.check_schema(value)


def test_documented_errors_use_the_error_table(document):
    assert document["components"]["schemas"]["Error"] == schemas.ERROR
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}
                    assert {ERRORS[code].status for code in _codes(response)} == {int(status)}


def _codes(response):
    return [part.strip(" `.") for part in
            response["description"].removeprefix("Error codes: ").split(",")]


def test_operations_documented_as_in_api_md(document):
    expected = {
        ("post", "/api/v1/accounts"): "202", ("post", "/api/v1/accounts/verify"): "200",
        ("post", "/api/v1/accounts/verify/resend"): "202", ("post", "/api/v1/sessions"): "200",
        ("delete", "/api/v1/sessions/current"): "204", ("get", "/api/v1/me"): "200",
        ("put", "/api/v1/me/newsletter"): "200", ("post", "/api/v1/password-resets"): "202",
        ("post", "/api/v1/password-resets/verify"): "200",
        ("post", "/api/v1/password-resets/complete"): "204",
        ("get", "/api/v1/news"): "200", ("get", "/api/v1/news/{id}"): "200",
        ("get", "/api/v1/videos/{id}"): "200", ("post", "/api/v1/news"): "201",
        ("put", "/api/v1/news/{id}"): "200", ("post", "/api/v1/news/{id}/publish"): "200",
        ("post", "/api/v1/videos"): "201",
        ("get", "/api/v1/sessions"): "200", ("delete", "/api/v1/sessions/others"): "200",
        ("post", "/api/v1/me/password"): "204",
    }
    for (method, path), status in expected.items():
        responses = document["paths"][path][method]["responses"]
        assert status in responses
    assert "429" in document["paths"]["/api/v1/accounts/verify/resend"]["post"]["responses"]
    assert "401" in document["paths"]["/api/v1/sessions"]["post"]["responses"]
    assert document["paths"]["/api/v1/me"]["get"]["security"]


def test_verification_and_the_session_operations_are_documented(document):
    paths = document["paths"]
    verify = paths["/api/v1/accounts/verify"]["post"]
    body = verify["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"email", "code", "password"}
    # one refusal of a code for every cause: no other code is documented
    refusals = verify["responses"]["400"]["description"]
    assert "`invalid_code`" in refusals
    assert "code_expired" not in refusals and "too_many_attempts" not in refusals
    assert "attempts_left" not in schemas.ERROR["properties"]["error"]["properties"]
    listed = paths["/api/v1/sessions"]["get"]
    assert listed["security"]
    item = listed["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"]["sessions"]["items"]
    assert set(item["properties"]) == {"id", "current", "created_at", "last_seen_at",
                                       "expires_at", "client_ip", "user_agent"}
    assert "`unauthorized`" in paths["/api/v1/sessions/others"]["delete"]["responses"]["401"][
        "description"]
    change = paths["/api/v1/me/password"]["post"]
    assert {"`wrong_password`", "`weak_password`"} <= set(
        change["responses"]["400"]["description"].removeprefix("Error codes: ")
        .rstrip(".").split(", "))
    assert "429" in change["responses"]


def test_the_terms_and_their_acceptance_are_documented(document):
    terms = document["paths"]["/api/v1/terms"]["get"]
    assert terms["responses"]["200"]["content"]["application/json"]["schema"] == schemas.TERMS
    assert "security" not in terms
    registration = document["paths"]["/api/v1/accounts"]["post"]
    body = registration["requestBody"]["content"]["application/json"]["schema"]
    assert "terms_version" in body["required"]
    assert body["properties"]["terms_version"]["const"] == TERMS_VERSION
    assert "`terms_not_accepted`" in registration["responses"]["400"]["description"]
    account = document["paths"]["/api/v1/me"]["get"]["responses"]["200"]
    assert {"terms_version", "terms_accepted_at"} <= set(
        account["content"]["application/json"]["schema"]["properties"])


def test_the_tus_upload_endpoint_is_described_with_its_headers(document):
    paths = document["paths"]
    assert set(paths["/api/v1/uploads"]) == {"options", "post"}
    assert set(paths["/api/v1/uploads/{id}"]) == {"head", "get", "patch", "delete"}
    create = paths["/api/v1/uploads"]["post"]
    headers = {p["name"]: p for p in create["parameters"] if p["in"] == "header"}
    assert headers["Upload-Length"]["required"] and headers["Tus-Resumable"]["required"]
    assert "Location" in create["responses"]["201"]["headers"]
    assert {"413", "429", "507"} <= set(create["responses"])
    patch = paths["/api/v1/uploads/{id}"]["patch"]
    assert list(patch["requestBody"]["content"]) == ["application/offset+octet-stream"]
    assert {"409", "415", "460"} <= set(patch["responses"])
    assert patch["x-required-role"] == "editor"
    ingest = paths["/api/v1/videos"]["post"]["requestBody"]["content"]["application/json"]
    assert {"upload_id", "master_path"} <= set(ingest["schema"]["properties"])
