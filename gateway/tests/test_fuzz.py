"""Schemathesis fuzzes the app in-process from its own OpenAPI document, with the fake RPC:
whatever the body, the headers or the query, no answer is a server error, and every answer
matches what the document promises (status codes, content types, body schemas)."""

import schemathesis
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from gateway.app import create_app

from .conftest import PUBLIC_BASE_URL
from .fakes import GOOD_TOKEN, FakeRpc


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

app = create_app(rpc=FakeRpc(), config={"TESTING": True, "TRUSTED_PROXY_COUNT": 0,
                                        "PUBLIC_BASE_URL": PUBLIC_BASE_URL})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_contract(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {GOOD_TOKEN}"})
