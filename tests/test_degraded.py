"""An outage of auth degrades the routes that need it, not the gateway: readiness holds (the
gateway stays in its Service), public pages and the news answer, and the account routes answer
503 with the error table's code, in the user's language, until auth is back."""

import pytest

from tests.support.system import running_system

pytestmark = pytest.mark.integration


def test_auth_down_leaves_the_gateway_ready_and_only_its_routes_degraded(tmp_path):
    with running_system(tmp_path) as system:
        system.stop("auth")
        ready = system.api("GET", "/readyz")               # through the front door, as the
        assert ready.status_code == 200, ready.text         # kubelet's probe asks it
        assert system.api("GET", "/api/v1/news").status_code == 200
        assert system.api("GET", "/", headers={"Accept-Language": "fr"}).status_code == 200

        refused = system.api("POST", "/api/v1/sessions", headers={"Accept-Language": "fr"},
                             json={"email": "jane@example.org",
                                   "password": "Tr4in-Station-Bl00m"})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "service_unavailable"

        system.start("auth")
        back = system.api("POST", "/api/v1/sessions", json={
            "email": "jane@example.org", "password": "Tr4in-Station-Bl00m"})
        assert back.status_code != 503, back.text
