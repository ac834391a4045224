"""Schemathesis fuzzes the app in-process from its own OpenAPI document, with the fake RPC:
whatever the body, the headers or the query, no answer is a server error, and every answer
matches what the document promises (status codes, content types, body schemas)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import schemathesis
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.app import create_app
from gateway.uploads import CHUNK_TYPE

from .conftest import PUBLIC_BASE_URL
from .fakes import EDITOR_TOKEN, FakeRpc


def accepted_by_email_validator(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


# The gateway checks addresses with email_validator, which is stricter than "format: email"
# (it refuses special-use domains such as .test, which schemathesis likes to generate). Fuzzed
# addresses are drawn from what it accepts, so that valid bodies reach the happy path.
schemathesis.openapi.format("email", st.from_regex(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\.[A-Za-z0-9_-]{1,10})?"
    r"@([a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\.){1,3}(org|com|fr|net|eu)",
    fullmatch=True).filter(accepted_by_email_validator))

# Dates as RFC 3339 writes them and the services read them (upper-case T and Z, no leap
# second): a generated `2026-01-01t00:00:60z` is refused, rightly, and would say nothing.
schemathesis.openapi.format("date-time", st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)),
                               timezone(-timedelta(hours=5, minutes=30))]),
).map(lambda moment: moment.isoformat().replace("+00:00", "Z")))

# tus chunks are plain bytes (application/offset+octet-stream): sent as octet streams are.
schemathesis.serializer.alias(CHUNK_TYPE, "application/octet-stream")

app = create_app(rpc=FakeRpc(), config={"TESTING": True, "TRUSTED_PROXY_COUNT": 0,
                                        "PUBLIC_BASE_URL": PUBLIC_BASE_URL})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
# A body past its operation's size limit is refused with 413, as it should be: news items and
# shotlists have bounds large enough for schemathesis to go past them.
schema.config.checks.negative_data_rejection.expected_statuses = [
    *schema.config.checks.negative_data_rejection.expected_statuses, "413"]
# An upload's size within its header's schema may still be more than this server takes
# (UPLOAD_MAX_BYTES) or has room for: 413 and 507 are the right answers then.
schema.config.checks.positive_data_acceptance.expected_statuses = [
    *schema.config.checks.positive_data_acceptance.expected_statuses, "413", "507"]


# One test per operation, each with its own node id: schemathesis' own parametrize gives them
# all the function's id, and pytest-xdist (./scripts/test runs two workers) would run one.
OPERATIONS = {result.ok().label: result.ok() for result in schema.get_all_operations()}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_the_api_keeps_its_contract(label):
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=OPERATIONS[label].as_strategy())
    def keeps_its_contract(case):
        # An editor: every operation, the editors' too, can reach its happy path.
        case.call_and_validate(headers={"Authorization": f"Bearer {EDITOR_TOKEN}"})

    keeps_its_contract()
