"""One journey followed across the services' JSON logs: the request id a client sends (or
the gateway gives) is on the gateway's line and on auth's lines for that request; auth logs
the event it writes with that request id; the mailer's lines for that event carry its id,
down to the mail.sent.v1 it writes in turn."""

from __future__ import annotations

import json
import secrets

import pytest

from gateway.terms import TERMS_VERSION
from tests.journeys import PASSWORD
from tests.support.smtp import sent_to
from tests.support.system import running_system

pytestmark = pytest.mark.integration


def lines(system, name: str) -> list[dict]:
    found = []
    for line in system.processes[name].log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
    return found


def test_a_registration_can_be_followed_from_the_request_to_the_mail(tmp_path):
    request_id = f"journey-{secrets.token_hex(6)}"
    with running_system(tmp_path / "system") as system:
        answer = system.api("POST", "/api/v1/accounts", headers={"X-Request-Id": request_id},
                            json={"email": "trace@example.org", "password": PASSWORD,
                                  "full_name": "Tra Ce", "organisation": "Example News",
                                  "language": "en", "terms_version": TERMS_VERSION})
        assert answer.status_code == 202, answer.text
        system.smtp.wait_for(sent_to("trace@example.org"), timeout=30)

        def mail_sent_logged():
            return [line for line in lines(system, "mailer")
                    if line.get("emitted_event_type") == "mail.sent.v1"]
        system.wait_until(mail_sent_logged, timeout=30)

        gateway = [line for line in lines(system, "gateway")
                   if line.get("request_id") == request_id]
        assert any(line.get("path") == "/api/v1/accounts" for line in gateway)
        [emitted] = [line for line in lines(system, "auth")
                     if line.get("request_id") == request_id
                     and line.get("emitted_event_type") == "verification_code.issued.v1"]
        event_id = emitted["emitted_event_id"]
        handled = [line for line in lines(system, "mailer") if line.get("event_id") == event_id]
        assert handled and all(line["event_type"].endswith(".verification_code.issued.v1")
                               for line in handled)
        assert any(line.get("emitted_event_type") == "mail.sent.v1" for line in handled)
        # nothing of the request leaks into work it did not cause
        assert not [line for line in lines(system, "auth") if line.get("request_id") ==
                    request_id and line.get("emitted_event_type") == "account.verified.v1"]
