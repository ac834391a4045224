"""Schemathesis fuzzes the live gateway (real auth and mailer behind it, each database) from
the OpenAPI document it serves: whatever the body, no answer is a server error."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from gateway.uploads import CHUNK_TYPE
from services.auth.limits import DEFAULT_LIMITS
from tests.support.databases import BACKENDS
from tests.support.smtp import SmtpCapture
from tests.support.system import NewsreelSystem

pytestmark = pytest.mark.integration

# tus chunks are plain bytes (application/offset+octet-stream): sent as octet streams are.
schemathesis.serializer.alias(CHUNK_TYPE, "application/octet-stream")

# The fuzzer is one client address hammering every endpoint: rate limits would answer 429
# to nearly everything and hide the code paths behind them. Every limit auth has, by its own
# names (auth refuses to start on a name it does not know).
UNLIMITED = ",".join(f"{name}=1000000/60" for name in DEFAULT_LIMITS)


@pytest.fixture(scope="module", params=BACKENDS, ids=[f"db={b}" for b in BACKENDS])
def live_system(request, tmp_path_factory):
    with SmtpCapture() as smtp, NewsreelSystem(
            backend=request.param, tmp_path=tmp_path_factory.mktemp("fuzz"), smtp=smtp,
            env={"AUTH_RATE_LIMITS": UNLIMITED}) as system:
        yield system.start()


def test_no_request_makes_the_live_gateway_fail(live_system):
    schema = schemathesis.openapi.from_url(f"{live_system.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def fuzz(case):
            response = case.call(timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path} {case.body!r}: "
                                f"{response.status_code} {response.text[:300]}")

        fuzz()
    assert failures == []
