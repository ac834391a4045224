"""Fixtures for cross-service integration tests: real RabbitMQ, PostgreSQL, SMTP and services.

The pytest process is not monkey-patched by eventlet; services always run as subprocesses.
A test that needs a server never skips: if one is missing it fails and says to run
./scripts/test.

    pytestmark = pytest.mark.integration

    def test_signup(system_factory):
        system = system_factory()                       # sqlite and postgres, one test each
        tap = system.tap(["auth.events"])
        assert system.api("POST", "/api/v1/accounts", json={...}).status_code == 202
        [mail] = system.smtp.wait_for(sent_to("ana@example.com"))
        tap.wait_for("account.registered.v1")
"""

from __future__ import annotations

import pytest

from tests.support import infra, processes
from tests.support.databases import BACKENDS
from tests.support.rabbit import TestVhost
from tests.support.smtp import SmtpCapture
from tests.support.system import NewsreelSystem

_infra_problems: list[str] | None = None


@pytest.fixture(scope="session", autouse=True)
def infrastructure():
    """Checked once per session: RabbitMQ (AMQP and management API) and PostgreSQL answer."""
    global _infra_problems
    if _infra_problems is None:
        _infra_problems = infra.problems()
    if _infra_problems:
        pytest.fail(infra.report(_infra_problems), pytrace=False)


@pytest.fixture(scope="session")
def rabbit_vhost():
    """A vhost for the whole session (cheap tests that only need a broker)."""
    vhost = TestVhost()
    yield vhost
    vhost.delete()


@pytest.fixture
def vhost():
    """A vhost of this test's own, deleted with everything in it afterwards."""
    vhost = TestVhost()
    yield vhost
    vhost.delete()


@pytest.fixture
def smtp():
    capture = SmtpCapture().start()
    yield capture
    capture.stop()


@pytest.fixture(params=BACKENDS)
def db_backend(request) -> str:
    return request.param


@pytest.fixture
def system_factory(tmp_path, smtp, db_backend):
    """`system_factory(env=None, overrides=None, start=True, timeout=90, transcoder=False)`
    builds a
    `NewsreelSystem` on its own vhost, databases (`db_backend`) and the `smtp` capture, starts
    it (migrations first) and returns it; every system is closed after the test, even when it
    fails. `env`: variables for every process; `overrides`: {service: {var: value}} for the
    first start only; `transcoder`: the transcoder's api and worker processes too."""
    systems: list[NewsreelSystem] = []

    def factory(*, env=None, overrides=None, start=True, timeout=90.0,
                transcoder=False) -> NewsreelSystem:
        system = NewsreelSystem(backend=db_backend, tmp_path=tmp_path / f"system{len(systems)}",
                                smtp=smtp, env=env, transcoder=transcoder)
        systems.append(system)
        if start:
            system.start(overrides=overrides, timeout=timeout)
        return system

    yield factory
    errors = []
    for system in reversed(systems):
        try:
            system.close()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


# --- service logs in the report of a failed test ------------------------------------------------

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    processes.begin_test()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for process in processes.processes_of_this_test():
            state = "running" if process.running else f"exited with {process.returncode}"
            report.sections.append((
                f"{process.name} log tail ({state}, {process.log_path})",
                process.tail(80) or "(empty)"))
    return report


def pytest_sessionfinish(session, exitstatus):
    processes.kill_all()
