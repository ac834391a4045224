"""Issue 10, points 1 to 6: the attacks on accounts found by a review against OWASP ASVS 4.0
level 2, each played against the account use cases on a real database (SQLite and
PostgreSQL). Each test failed on the code before the fix."""

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from services.auth import domain
from services.auth.models import Account

from .test_service import (
    IP,
    NEW_PASSWORD,
    PASSWORD,
    ask_reset,
    codes,
    error_of,
    events,
    last_code,
    make_service,
    register,
    verified,
    wrong,
)

ATTACKER = "203.0.113.66"
OWNER_ELSEWHERE = "198.51.100.20"


@pytest.fixture
def accounts(session_factory, sealer, clock):
    # the per-client limits out of the way: these tests are about what one address can take
    return make_service(session_factory, sealer, clock,
                        "code_email_ip=1000/900,code_ip=1000/900,"
                        "reset_email_ip=1000/60,reset_email_ip_hourly=1000/3600,"
                        "resend_email_ip=1000/60,resend_email_ip_hourly=1000/3600")


# -- 1. brute force across new codes ----------------------------------------------------------

def test_new_codes_do_not_give_new_tries_and_the_owner_is_told(
        accounts, session_factory, sealer, clock):
    """6 codes x 5 wrong tries: code entry locks after 5, and a locked address checks no code
    at all, the right one included."""
    verified(accounts, session_factory, sealer)
    refused_right_codes, locked_at = 0, None
    for _ in range(6):
        clock.advance(minutes=2)
        ask_reset(accounts)
        code = last_code(session_factory, sealer, "reset")
        for _ in range(5):
            error_of(accounts.verify_password_reset, "jane@example.org", wrong(code), IP)
        locked_at = locked_at or clock.now
        refused_right_codes += error_of(
            accounts.verify_password_reset, "jane@example.org", code, IP).code == "invalid_code"
    assert refused_right_codes == 6
    locked = events(session_factory, "verification_code.locked.v1")
    assert len(locked) == 1
    assert locked[0]["data"]["email"] == "jane@example.org"
    assert locked[0]["data"]["purpose"] == "reset"
    assert locked[0]["data"]["locked_until"] == _iso(locked_at + timedelta(minutes=15))


def test_the_guesses_one_address_takes_are_bounded_whatever_the_attacker_does(
        accounts, session_factory, sealer, clock):
    """An attacker who asks for a code and tries one as often as answers allow, for two days:
    the guesses actually compared with a code stay within the bound (20, then one a day)."""
    verified(accounts, session_factory, sealer)
    compared = 0
    real_consume = accounts._live_codes

    def counting(session, account_id, purpose, now, lock=False):
        nonlocal compared
        if lock:
            compared += 1
        return real_consume(session, account_id, purpose, now, lock)

    accounts._live_codes = counting
    for _ in range(2 * 24 * 10):          # a try every 6 minutes for two days, a code an hour
        clock.advance(minutes=6)
        if clock.now.minute < 6:
            ask_reset(accounts)
        error_of(accounts.verify_password_reset, "jane@example.org", "000000", IP)
    assert compared <= domain.MAX_FREE_CODE_FAILURES + 2
    assert compared >= domain.MAX_FREE_CODE_FAILURES      # the locks end: it is not a ban


def test_the_right_code_works_for_the_owner_once_the_lock_ends(
        accounts, session_factory, sealer, clock):
    verified(accounts, session_factory, sealer)
    ask_reset(accounts)
    code = last_code(session_factory, sealer, "reset")
    for _ in range(5):
        error_of(accounts.verify_password_reset, "jane@example.org", wrong(code), ATTACKER)
    assert error_of(accounts.verify_password_reset, "jane@example.org", code, IP).code == \
        "invalid_code"
    clock.advance(minutes=15)
    grant = accounts.verify_password_reset("jane@example.org", code, IP)
    accounts.complete_password_reset(grant["reset_token"], NEW_PASSWORD, IP)
    # a success starts the count again: five more wrong tries before the next lock
    ask_reset(accounts)
    code = last_code(session_factory, sealer, "reset")
    for _ in range(4):
        error_of(accounts.verify_password_reset, "jane@example.org", wrong(code), ATTACKER)
    assert accounts.verify_password_reset("jane@example.org", code, IP)["reset_token"]


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


# -- 2. takeover of a pending registration ----------------------------------------------------

def test_registering_again_on_a_pending_address_does_not_take_it_over(
        accounts, session_factory, sealer):
    register(accounts, "jane@example.org", password=PASSWORD, full_name="Jane Doe")
    evil = "Ev1l-Takeover-Pass"
    accounts.register("jane@example.org", evil, "Mallory", "Evil Corp", "en", ATTACKER,
                      "2026-11-21")
    stored = _account(session_factory)
    assert (stored.full_name, stored.organisation) == ("Jane Doe", "Example News")
    # the owner reads the latest code: it verifies the registration she made, with her password
    code = last_code(session_factory, sealer)
    assert error_of(accounts.verify_account, "jane@example.org", code, evil, ATTACKER).code == \
        "invalid_code"
    session = accounts.verify_account("jane@example.org", code, PASSWORD, IP)
    assert session["account"]["full_name"] == "Jane Doe"
    assert error_of(accounts.login, "jane@example.org", evil, ATTACKER).code == \
        "invalid_credentials"
    assert accounts.login("jane@example.org", PASSWORD, IP)["account"]["verified"]


def test_whoever_holds_the_code_must_know_the_password_chosen_first(
        accounts, session_factory, sealer):
    """An attacker who registered the address first (before its owner) keeps nothing: the
    owner's code with her own password does not verify the attacker's registration."""
    accounts.register("jane@example.org", "Ev1l-Takeover-Pass", "Mallory", "Evil Corp", "en",
                      ATTACKER, "2026-11-21")
    code = last_code(session_factory, sealer)
    assert error_of(accounts.verify_account, "jane@example.org", code, PASSWORD, IP).code == \
        "invalid_code"
    assert _account(session_factory).verified_at is None
    # the owner proves her mailbox another way: a reset makes the account hers
    ask_reset(accounts)
    grant = accounts.verify_password_reset(
        "jane@example.org", last_code(session_factory, sealer, "reset"), IP)
    accounts.complete_password_reset(grant["reset_token"], NEW_PASSWORD, IP)
    assert error_of(accounts.login, "jane@example.org", "Ev1l-Takeover-Pass", ATTACKER).code \
        == "invalid_credentials"


def _account(session_factory, email="jane@example.org"):
    with session_factory() as session:
        return session.execute(select(Account).where(Account.email == email)).scalar_one()


# -- 3. enumeration through code answers -------------------------------------------------------

def _statements(session_factory, call):
    """The SQL statements `call` runs (text, without values), in order."""
    engine = session_factory.kw["bind"]
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_code_refusals_do_the_same_work_for_known_and_unknown_addresses(
        accounts, session_factory, sealer, clock):
    register(accounts, "jane@example.org")
    verified(accounts, session_factory, sealer, "john@example.org")
    ask_reset(accounts, "john@example.org")
    known = _statements(session_factory, lambda: error_of(
        accounts.verify_account, "jane@example.org", "000000", PASSWORD, IP))
    unknown = _statements(session_factory, lambda: error_of(
        accounts.verify_account, "ghost@example.org", "000000", PASSWORD, IP))
    assert known == unknown
    known = _statements(session_factory, lambda: error_of(
        accounts.verify_password_reset, "john@example.org", "000000", IP))
    unknown = _statements(session_factory, lambda: error_of(
        accounts.verify_password_reset, "ghost@example.org", "000000", IP))
    assert known == unknown


def test_resend_and_reset_do_the_same_work_for_known_and_unknown_addresses(
        accounts, session_factory, sealer, clock):
    register(accounts, "jane@example.org")
    verified(accounts, session_factory, sealer, "john@example.org")
    for call, known_address in ((accounts.resend_verification, "jane@example.org"),
                                (accounts.request_password_reset, "john@example.org")):
        clock.advance(minutes=2)
        call("first-of-the-window@example.org", IP)     # the client's own counter exists
        known = _statements(session_factory, lambda c=call, a=known_address: c(a, IP))
        unknown = _statements(session_factory, lambda c=call: c("ghost@example.org", IP))
        assert known == unknown
    accounts.issue_requested_codes()     # and the codes still go where they should
    assert len(codes(session_factory, sealer, "verify")) == 3   # jane: 1 + 1, john: 1
    assert len(codes(session_factory, sealer, "reset")) == 1


# -- 4. denial of the owner --------------------------------------------------------------------

def test_an_attacker_spending_the_login_limit_does_not_lock_the_owner_out(
        session_factory, sealer, clock):
    accounts = make_service(session_factory, sealer, clock)
    verified(accounts, session_factory, sealer)
    for _ in range(10):
        error_of(accounts.login, "jane@example.org", "Wrong-Passw0rd!", ATTACKER)
    assert error_of(accounts.login, "jane@example.org", PASSWORD, ATTACKER).code == \
        "rate_limited"
    assert accounts.login("jane@example.org", PASSWORD, OWNER_ELSEWHERE)["token"]


def test_many_clients_at_one_address_escalate_instead_of_locking_it(
        session_factory, sealer, clock):
    """30 wrong passwords from 30 clients: each client then gets 3 tries an hour at that
    address, the owner included; not none."""
    accounts = make_service(session_factory, sealer, clock)
    verified(accounts, session_factory, sealer)
    for n in range(30):
        error_of(accounts.login, "jane@example.org", "Wrong-Passw0rd!", f"203.0.113.{n}")
    for _ in range(3):
        error_of(accounts.login, "jane@example.org", "Wrong-Passw0rd!", "203.0.113.200")
    assert error_of(accounts.login, "jane@example.org", "Wrong-Passw0rd!",
                    "203.0.113.200").details["limit"] == "login_email_ip_escalated"
    assert accounts.login("jane@example.org", PASSWORD, OWNER_ELSEWHERE)["token"]


def test_reset_requests_by_others_neither_kill_the_owners_code_nor_refuse_her(
        session_factory, sealer, clock):
    accounts = make_service(session_factory, sealer, clock)
    verified(accounts, session_factory, sealer)
    ask_reset(accounts, client=IP)
    owners = last_code(session_factory, sealer, "reset")
    for n in range(20):
        clock.advance(seconds=30)
        ask_reset(accounts, client=f"203.0.113.{n}")
    # the mailbox got at most its budget of codes, and the owner's still works
    assert len(codes(session_factory, sealer, "reset")) <= 6
    ask_reset(accounts, client=IP)                       # not refused
    assert accounts.verify_password_reset("jane@example.org", owners, IP)["reset_token"]


# -- 6. one mailbox, one account; IPv6 clients by /64 ----------------------------------------

@pytest.mark.parametrize("spelling", [
    "JANE@EXAMPLE.ORG", "\uff4a\uff41\uff4e\uff45@example.org",       # full-width "jane"
    "jane@EXAMPLE.org.", " jane@example.org "])
def test_one_mailbox_cannot_hold_two_accounts(accounts, session_factory, sealer, spelling):
    verified(accounts, session_factory, sealer)
    register(accounts, spelling)
    with session_factory() as session:
        assert session.execute(select(Account.email)).scalars().all() == ["jane@example.org"]
    assert accounts.login(spelling, PASSWORD, IP)["token"]


def test_an_international_domain_is_one_domain_in_both_forms(accounts, session_factory, sealer):
    verified(accounts, session_factory, sealer, "rédaction@exämple.org")
    register(accounts, "RÉDACTION@xn--exmple-cua.org")
    with session_factory() as session:
        assert session.execute(select(Account.email)).scalars().all() == [
            "rédaction@xn--exmple-cua.org"]


def test_an_ipv6_client_is_its_slash_64(session_factory, sealer, clock):
    accounts = make_service(session_factory, sealer, clock, "login_ip=2/900")
    for host in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"):
        error_of(accounts.login, "a@example.org", PASSWORD, host)
    assert error_of(accounts.login, "a@example.org", PASSWORD,
                    "2001:db8:1:2:abcd::42").details["limit"] == "login_ip"
    assert error_of(accounts.login, "a@example.org", PASSWORD,
                    "2001:db8:1:3::1").code == "invalid_credentials"


# -- 5. sessions --------------------------------------------------------------------------------

def test_a_portal_session_ends_after_its_idle_time_but_not_while_used(
        accounts, session_factory, sealer, clock):
    verified(accounts, session_factory, sealer)
    portal = accounts.login("jane@example.org", PASSWORD, IP, kind="portal")
    api = accounts.login("jane@example.org", PASSWORD, IP, kind="api")
    for _ in range(6):                       # used every 20 minutes for two hours: alive
        clock.advance(minutes=20)
        accounts.authenticate(portal["token"])
    clock.advance(minutes=31)
    assert error_of(accounts.authenticate, portal["token"]).code == "unauthorized"
    assert accounts.authenticate(api["token"])["email"] == "jane@example.org"
    clock.advance(days=7)                    # the absolute limit is kept for both
    assert error_of(accounts.authenticate, api["token"]).code == "unauthorized"


def test_one_lists_ones_sessions_and_logs_out_everywhere_else(
        accounts, session_factory, sealer, clock):
    first = verified(accounts, session_factory, sealer)
    other = accounts.login("jane@example.org", PASSWORD, "198.51.100.9", kind="portal",
                           user_agent="Firefox")
    johns = verified(accounts, session_factory, sealer, "john@example.org")
    listed = accounts.list_sessions(other["token"])
    assert [(s["current"], s["client_ip"], s["user_agent"]) for s in listed] == [
        (True, "198.51.100.9", "Firefox"), (False, IP, None)]
    assert all(other["token"] not in str(s) and first["token"] not in str(s) for s in listed)
    assert accounts.end_other_sessions(other["token"]) == 1
    assert error_of(accounts.authenticate, first["token"]).code == "unauthorized"
    assert accounts.authenticate(other["token"])
    assert accounts.authenticate(johns["token"])             # another account's: untouched


def test_changing_the_password_ends_the_other_sessions(accounts, session_factory, sealer):
    first = verified(accounts, session_factory, sealer)
    here = accounts.login("jane@example.org", PASSWORD, IP)
    assert error_of(accounts.change_password, here["token"], "Wrong-Passw0rd!", NEW_PASSWORD,
                    IP).code == "invalid_credentials"
    assert error_of(accounts.change_password, here["token"], PASSWORD, "weak", IP).code == \
        "weak_password"
    accounts.change_password(here["token"], PASSWORD, NEW_PASSWORD, IP)
    assert error_of(accounts.authenticate, first["token"]).code == "unauthorized"
    assert accounts.authenticate(here["token"])
    assert accounts.login("jane@example.org", NEW_PASSWORD, IP)
    changed = events(session_factory, "password.changed.v1")
    assert [e["data"]["reason"] for e in changed] == ["change"]
