"""The account use cases against a real database (SQLite and PostgreSQL), no broker: events
are read back from the outbox table they are committed to."""

import json
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from services.auth.limits import parse_limits
from services.auth.models import Account, VerificationCode, outbox
from services.auth.service import AccountService, AuthSettings, Passwords
from services.shared.errors import ServiceError

PASSWORD = "Tr4in-Station-Bl00m"
NEW_PASSWORD = "Gl4cier-Harbour-Mint"
IP = "192.0.2.10"
TERMS = "2026-11-21"


# cheap argon2id parameters: these tests are about the rules, not the hash's cost
PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


def make_service(session_factory, sealer, clock, limits=""):
    return AccountService(
        session=session_factory(), outbox=outbox, limits=parse_limits(limits), sealer=sealer,
        settings=AuthSettings(code_key=b"k" * 32), passwords=PASSWORDS, clock=clock)


@pytest.fixture
def accounts(session_factory, sealer, clock):
    return make_service(session_factory, sealer, clock)


def events(session_factory, event_type=None):
    with session_factory() as session:
        rows = session.execute(select(outbox.table).order_by(outbox.table.c.id)).all()
    found = [json.loads(row.envelope) for row in rows]
    return [e for e in found if event_type is None or e["type"].endswith("." + event_type)]


def codes(session_factory, sealer, purpose="verify"):
    return [sealer.open(e["data"]["sealed"])["code"]
            for e in events(session_factory, "verification_code.issued.v1")
            if e["data"]["purpose"] == purpose]


def last_code(session_factory, sealer, purpose="verify"):
    issued = [e for e in events(session_factory, "verification_code.issued.v1")
              if e["data"]["purpose"] == purpose]
    return sealer.open(issued[-1]["data"]["sealed"])["code"]


def register(accounts, email="jane@example.org", password=PASSWORD, language="fr",
             terms_version=TERMS, full_name="Jane Doe"):
    accounts.register(email, password, full_name, "Example News", language, IP, terms_version)


def verified(accounts, session_factory, sealer, email="jane@example.org"):
    register(accounts, email)
    return accounts.verify_account(email, last_code(session_factory, sealer), PASSWORD, IP)


def resend(accounts, email="jane@example.org", client=IP):
    """Asks for a new code and lets the service make it, as its timer does."""
    accounts.resend_verification(email, client)
    accounts.issue_requested_codes()


def ask_reset(accounts, email="jane@example.org", client=IP):
    accounts.request_password_reset(email, client)
    accounts.issue_requested_codes()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def error_of(call, *args):
    with pytest.raises(ServiceError) as caught:
        call(*args)
    return caught.value


def test_register_commits_the_account_and_its_events_without_secrets(
        accounts, session_factory, sealer):
    register(accounts, email="  Jane@Example.org ")
    found = events(session_factory)
    assert [e["type"] for e in found] == [
        "newsreel.auth.account.registered.v1", "newsreel.auth.verification_code.issued.v1"]
    registered, issued = found
    assert registered["data"]["email"] == "jane@example.org"
    assert issued["data"]["purpose"] == "verify"
    assert issued["data"]["language"] == "fr"
    secret = sealer.open(issued["data"]["sealed"])
    assert secret["email"] == "jane@example.org" and len(secret["code"]) == 6
    with session_factory() as session:
        stored = session.execute(select(VerificationCode)).scalar_one()
    assert secret["code"] not in stored.code_hash
    for event in found:
        body = json.dumps(event)
        assert secret["code"] not in body.replace(issued["data"]["sealed"], "")
        assert PASSWORD not in body and "$argon2" not in body


def test_verify_with_the_code_opens_a_session(accounts, session_factory, sealer):
    result = verified(accounts, session_factory, sealer)
    assert result["account"]["verified"] is True
    assert accounts.authenticate(result["token"])["email"] == "jane@example.org"
    assert len(events(session_factory, "account.verified.v1")) == 1


def test_every_refusal_of_a_code_is_one_answer(accounts, session_factory, sealer, clock):
    register(accounts)
    code = last_code(session_factory, sealer)
    refusals = [error_of(accounts.verify_account, "jane@example.org", wrong(code), PASSWORD, IP)]
    clock.advance(minutes=31)                                                   # expired
    refusals.append(error_of(accounts.verify_account, "jane@example.org", code, PASSWORD, IP))
    refusals.append(error_of(accounts.verify_account, "ghost@example.org", code, PASSWORD, IP))
    assert {(e.code, str(e.details)) for e in refusals} == {("invalid_code", "{}")}


def test_a_code_works_once(accounts, session_factory, sealer):
    register(accounts)
    code = last_code(session_factory, sealer)
    accounts.verify_account("jane@example.org", code, PASSWORD, IP)
    assert error_of(accounts.verify_account, "jane@example.org", code, PASSWORD, IP).code == \
        "invalid_code"


def test_a_code_is_worth_nothing_for_another_account(accounts, session_factory, sealer):
    register(accounts, "jane@example.org")
    janes_code = last_code(session_factory, sealer)
    register(accounts, "john@example.org")
    assert error_of(accounts.verify_account, "john@example.org", janes_code, PASSWORD,
                    IP).code == "invalid_code"


def test_resend_adds_a_code_and_is_rate_limited_alike_for_unknown_addresses(
        accounts, session_factory, sealer, clock):
    register(accounts)
    first = last_code(session_factory, sealer)
    resend(accounts)
    second = last_code(session_factory, sealer)
    known = error_of(accounts.resend_verification, "jane@example.org", IP)
    unknown_first = accounts.resend_verification("nobody@example.org", IP)
    unknown = error_of(accounts.resend_verification, "nobody@example.org", IP)
    assert unknown_first is None
    assert (known.code, unknown.code) == ("rate_limited", "rate_limited")
    assert known.details["retry_after"] == unknown.details["retry_after"] == 60
    assert len(codes(session_factory, sealer)) == 2       # the unknown address got nothing
    clock.advance(seconds=61)
    # the first code still works: someone asking again does not kill the owner's code
    assert first != second
    accounts.verify_account("jane@example.org", first, PASSWORD, IP)


def test_registering_a_taken_address_answers_alike_and_warns_the_owner(
        accounts, session_factory, sealer):
    verified(accounts, session_factory, sealer)
    before = len(events(session_factory, "verification_code.issued.v1"))
    assert register(accounts) is None
    assert len(events(session_factory, "verification_code.issued.v1")) == before
    attempted = events(session_factory, "account.registration_attempted.v1")
    assert [e["data"]["email"] for e in attempted] == ["jane@example.org"]


def stored_account(session_factory, email="jane@example.org"):
    with session_factory() as session:
        return session.execute(select(Account).where(Account.email == email)).scalar_one()


def test_the_account_keeps_which_terms_it_accepted_and_when(
        accounts, session_factory, sealer, clock):
    accepted_at = clock.now
    register(accounts)
    stored = stored_account(session_factory)
    assert (stored.terms_version, stored.terms_accepted_at) == (TERMS, accepted_at)
    assert stored.terms_accepted_at.utcoffset() == timedelta(0)

    clock.advance(minutes=5)
    session = accounts.verify_account("jane@example.org", last_code(session_factory, sealer),
                                      PASSWORD, IP)
    shown = accepted_at.isoformat().replace("+00:00", "Z")
    assert (session["account"]["terms_version"], session["account"]["terms_accepted_at"]) == (
        TERMS, shown)
    me = accounts.authenticate(session["token"])
    assert (me["terms_version"], me["terms_accepted_at"]) == (TERMS, shown)


def test_registering_again_after_the_codes_expired_starts_over(
        accounts, session_factory, clock):
    register(accounts, terms_version="2026-01-01")
    clock.advance(hours=2)
    register(accounts, full_name="Jane Smith")
    stored = stored_account(session_factory)
    assert (stored.full_name, stored.terms_version, stored.terms_accepted_at) == (
        "Jane Smith", TERMS, clock.now)


def test_registering_a_taken_address_leaves_its_acceptance_alone(
        accounts, session_factory, sealer, clock):
    accepted_at = clock.now
    verified(accounts, session_factory, sealer)
    clock.advance(days=3)
    register(accounts, terms_version="2027-01-01", full_name="Someone Else")
    stored = stored_account(session_factory)
    assert (stored.full_name, stored.terms_version, stored.terms_accepted_at) == (
        "Jane Doe", TERMS, accepted_at)


@pytest.mark.parametrize("terms_version", ["", "  ", None, "x" * 33])
def test_a_registration_without_a_terms_version_is_refused(
        accounts, session_factory, terms_version):
    error = error_of(accounts.register, "jane@example.org", PASSWORD, "Jane", "Example", "fr",
                     IP, terms_version)
    assert error.code == "terms_not_accepted"
    assert events(session_factory) == []


def test_weak_passwords_are_refused_with_the_rules_they_break(accounts, session_factory):
    error = error_of(accounts.register, "jane@example.org", "password", "J", "O", "fr", IP,
                     TERMS)
    assert error.code == "weak_password"
    assert error.details["rules"] == ["min_length", "uppercase", "digit", "symbol"]
    assert events(session_factory) == []


def test_login_answers_one_way_for_every_wrong_cause(accounts, session_factory, sealer):
    register(accounts, "pending@example.org")
    verified(accounts, session_factory, sealer)
    assert error_of(accounts.login, "jane@example.org", "Wrong-Passw0rd!", IP).code == \
        "invalid_credentials"
    assert error_of(accounts.login, "ghost@example.org", PASSWORD, IP).code == \
        "invalid_credentials"
    assert error_of(accounts.login, "pending@example.org", PASSWORD, IP).code == "not_verified"
    session = accounts.login("JANE@example.org", PASSWORD, IP)
    assert accounts.authenticate(session["token"])["verified"] is True
    accounts.logout(session["token"])
    assert error_of(accounts.authenticate, session["token"]).code == "unauthorized"


def test_login_is_rate_limited_per_account_and_client_and_per_client(
        session_factory, sealer, clock):
    accounts = make_service(session_factory, sealer, clock, "login_email_ip=3/900,login_ip=5/900")
    for _ in range(3):
        error_of(accounts.login, "jane@example.org", "Wrong-Passw0rd!", IP)
    limited = error_of(accounts.login, "jane@example.org", PASSWORD, IP)
    assert (limited.code, limited.details["limit"]) == ("rate_limited", "login_email_ip")
    for _ in range(2):
        error_of(accounts.login, "other@example.org", PASSWORD, IP)
    assert error_of(accounts.login, "third@example.org", PASSWORD, IP).details["limit"] == \
        "login_ip"
    assert error_of(accounts.login, "third@example.org", PASSWORD, "198.51.100.7").code == \
        "invalid_credentials"


def test_password_reset_ends_every_session(accounts, session_factory, sealer):
    first = verified(accounts, session_factory, sealer)
    second = accounts.login("jane@example.org", PASSWORD, IP)
    ask_reset(accounts)
    ask_reset(accounts, "ghost@example.org", "198.51.100.7")  # same answer: None
    code = last_code(session_factory, sealer, purpose="reset")
    reset = accounts.verify_password_reset("jane@example.org", code, IP)
    weak = error_of(accounts.complete_password_reset, reset["reset_token"], "weak", IP)
    assert weak.code == "weak_password"
    accounts.complete_password_reset(reset["reset_token"], NEW_PASSWORD, IP)
    for old in (first, second):
        assert error_of(accounts.authenticate, old["token"]).code == "unauthorized"
    assert error_of(accounts.complete_password_reset, reset["reset_token"], NEW_PASSWORD,
                    IP).code == "invalid_reset_token"
    assert error_of(accounts.login, "jane@example.org", PASSWORD, IP).code == \
        "invalid_credentials"
    assert accounts.login("jane@example.org", NEW_PASSWORD, IP)["account"]["verified"]
    changed = events(session_factory, "password.changed.v1")
    assert [e["data"]["email"] for e in changed] == ["jane@example.org"]
    assert NEW_PASSWORD not in json.dumps(changed)


def test_a_reset_token_expires(accounts, session_factory, sealer, clock):
    verified(accounts, session_factory, sealer)
    ask_reset(accounts)
    reset = accounts.verify_password_reset(
        "jane@example.org", last_code(session_factory, sealer, "reset"), IP)
    clock.advance(minutes=16)
    assert error_of(accounts.complete_password_reset, reset["reset_token"], NEW_PASSWORD,
                    IP).code == "invalid_reset_token"


def test_a_verify_code_does_not_reset_a_password(accounts, session_factory, sealer):
    register(accounts)
    code = last_code(session_factory, sealer, "verify")
    assert error_of(accounts.verify_password_reset, "jane@example.org", code, IP).code == \
        "invalid_code"


def test_newsletter_opt_in_and_out_emit_one_event_per_change(accounts, session_factory, sealer):
    token = verified(accounts, session_factory, sealer)["token"]
    assert accounts.set_newsletter(token, True)["newsletter"] is True
    accounts.set_newsletter(token, True)
    assert accounts.set_newsletter(token, False)["newsletter"] is False
    changes = events(session_factory, "newsletter.subscription_changed.v1")
    assert [e["data"]["subscribed"] for e in changes] == [True, False]
    assert error_of(accounts.set_newsletter, "not-a-token", True).code == "unauthorized"


def test_sessions_expire(accounts, session_factory, sealer, clock):
    token = verified(accounts, session_factory, sealer)["token"]
    clock.advance(days=8)
    assert error_of(accounts.authenticate, token).code == "unauthorized"
    accounts.purge_expired()


def test_roles_are_granted_and_revoked_by_address(accounts, session_factory, sealer):
    verified(accounts, session_factory, sealer)
    assert accounts.set_role("JANE@example.org", "editor", granted=True)["roles"] == ["editor"]
    assert [a["email"] for a in accounts.accounts_with_role("editor")] == ["jane@example.org"]
    assert accounts.set_role("jane@example.org", "editor", granted=False)["roles"] == []
    assert error_of(accounts.set_role, "jane@example.org", "admin", True).code == \
        "invalid_request"
    assert error_of(accounts.set_role, "ghost@example.org", "editor", True).code == "not_found"


def test_the_newsletter_link_unsubscribes_without_a_session(accounts, session_factory, sealer):
    result = verified(accounts, session_factory, sealer)
    accounts.set_newsletter(result["token"], True)
    accounts.unsubscribe_newsletter(result["account"]["id"])
    accounts.unsubscribe_newsletter(result["account"]["id"])      # a second click: no change
    accounts.unsubscribe_newsletter("no-such-account")
    assert accounts.authenticate(result["token"])["newsletter"] is False
    changes = events(session_factory, "newsletter.subscription_changed.v1")
    assert [e["data"]["subscribed"] for e in changes] == [True, False]
