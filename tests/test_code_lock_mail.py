"""Issue 10, point 1, the owner told: wrong codes typed for an account lock its code entry and
the owner gets a mail saying so, through the real system (auth's outbox, RabbitMQ, the
mailer, SMTP). The event is held to contract/events/verification_code.locked.v1.schema.json
when the system closes. One backend (PostgreSQL, production's): the mailer's handling on each
database is services/mailer/tests/test_account_notices.py's."""

import json

import pytest

from tests.journeys import code_mails, latest_code, register, verify
from tests.support.smtp import find_code, text_of

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("db_backend", ["postgres"])
def test_wrong_codes_lock_code_entry_and_the_owner_is_told(system_factory, db_backend):
    system = system_factory()
    tap = system.tap(["auth.events"])
    email = "jane@example.org"
    register(system, email, language="en")
    code = latest_code(system, email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    refusals = {verify(system, email, wrong).status_code for _ in range(5)}   # the 5th locks
    assert refusals == {400}
    assert verify(system, email, code).status_code == 400     # locked: the right one too

    notice = code_mails(system, email, count=2)[-1]
    assert notice["Subject"] == "Wrong codes were entered for your Newsreel account"
    text = " ".join(text_of(notice).split())
    assert "Someone entered several wrong codes to verify the e-mail address" in text
    assert "code entry for your account is paused until" in text and " UTC." in text
    assert "Your password has not been changed." in text
    with pytest.raises(AssertionError, match="found none"):
        find_code(notice)                                     # no code in it

    [locked] = tap.wait_for("verification_code.locked.v1")
    data = json.loads(locked.body)["data"]
    assert (data["purpose"], data["failures"], data["email"]) == ("verify", 5, email)
    assert code not in locked.body.decode() and wrong not in locked.body.decode()
