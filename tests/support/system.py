"""The whole of Newsreel as real processes, wired to a fresh vhost, fresh databases and an
`SmtpCapture`, with RabbitMQ reached through a `TcpProxy` that the test can break.

    system = NewsreelSystem(backend="sqlite", tmp_path=tmp_path, smtp=smtp).start()
    system.api("POST", "/api/v1/accounts", json={...})
    system.kill("auth"); system.start("auth")
    system.proxy.cut()
    system.close()

Every process gets the same environment (`.env`), plus its own `METRICS_PORT` and any per-start
extra variables. Overrides given to one `start()` apply to that start only: after
`system.kill("auth")`, `system.start("auth")` runs auth without them.

Every event the services publish is held to the contract (`contract/events/`): from the first
`start()` a tap collects the four exchanges, and `close()` fails, naming the event and what
breaks its schema, if one does not validate or has no schema. What a test publishes itself
(`system.vhost.publish`) is not held to it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from contract import validate as contract
from services.shared import signing_keys

from . import databases
from .chaos import TcpProxy
from .pgserver import PostgresServer
from .processes import REPO_ROOT, ServiceProcess, all_of, free_port, http_ok
from .rabbit import AMQP_URL, MANAGEMENT_URL, EventTap, TestVhost
from .smtp import SmtpCapture

# the front door (nginx, gateway/frontdoor) in front of the gateway, as on every machine: every
# request a test makes goes through it, so what is tested is what runs
CORE_SERVICES = ("auth", "mailer", "catalog", "gateway", "frontdoor")
# the transcoder as production runs it: RPC and ingest handler in one process, the jobs in
# another (a test kills the worker mid-job); started only by the tests that need it
TRANSCODER_SERVICES = ("transcoder", "transcoder-worker")
ALL_SERVICES = ("auth", "mailer", "catalog", *TRANSCODER_SERVICES, "gateway", "frontdoor")
# the ones that answer HTTP: stopped first at close(), so that no new request comes in
HTTP_SERVICES = ("frontdoor", "gateway")
DATABASE_OF = {"auth": "auth", "mailer": "mailer", "catalog": "catalog",
               "transcoder": "transcoder", "transcoder-worker": "transcoder"}
# services.shared.runner logs "<service> started, metrics on :<port>" once runner.start() has
# returned, i.e. once every entrypoint (event handler queues included) is consuming. The
# metrics port answers earlier than that, so readiness waits for both.
STARTED_MARKER = " started, metrics on :"
EVENT_EXCHANGES = contract.EXCHANGES
# a failing close() lists this many broken events; the rest are counted
CONTRACT_REPORT_LIMIT = 10


def _gunicorn(python: str) -> str:
    beside = Path(python).parent / "gunicorn"
    if beside.exists():
        return str(beside)
    found = shutil.which("gunicorn")
    if found is None:
        raise RuntimeError(f"gunicorn is not installed beside {python} nor on PATH")
    return found


class NewsreelSystem:
    def __init__(self, *, backend: str, tmp_path: str | os.PathLike, smtp: SmtpCapture,
                 vhost: TestVhost | None = None, env: Mapping[str, str] | None = None,
                 log_dir: str | os.PathLike | None = None, python: str = sys.executable,
                 commands: Mapping[str, Sequence[str]] | None = None,
                 transcoder: bool = False, check_events: bool | None = None,
                 postgres: PostgresServer | None = None, broker=None):
        """`env`: variables added for every process (e.g. rate limits); `vhost`: by default a
        fresh one, deleted at `close()`; `commands`: argv replacements by name ("migrate",
        "auth", "mailer", "gateway"), for testing the harness itself; `transcoder`: run the
        transcoder's two processes too; `check_events`: hold every event published to the
        contract (by default unless `commands` replaces a service: stand-ins publish
        whatever their test needs); `postgres`: a throwaway `PostgresServer` of the test's own
        to hold the databases (backend "postgres"), which the test may stop and start;
        `broker`: another RabbitMQ than the machine's, e.g. a `RabbitCluster`
        (tests/support/rabbit_cluster.py): the vhost is made there (`broker.new_vhost()`), every
        process is given all its addresses (`vhost.amqp_uris`, AMQP_URI ';'-separated) and its
        `management_url`, with no proxy in between (`proxy` is None); taps use `vhost.amqp_uri`."""
        self.backend = backend
        self.services = ALL_SERVICES if transcoder else CORE_SERVICES
        self.databases = tuple(dict.fromkeys(
            DATABASE_OF[name] for name in self.services if name in DATABASE_OF))
        self.tmp_path = Path(tmp_path)
        self.tmp_path.mkdir(parents=True, exist_ok=True)
        self.log_dir = Path(log_dir) if log_dir is not None else self.tmp_path / "logs"
        self.smtp = smtp
        self.python = python
        self._cleanups: list = []      # run in reverse at close()
        self._taps: list[EventTap] = []
        self._contract_tap: EventTap | None = None
        self.processes: dict[str, ServiceProcess] = {}
        self.closed = False
        try:
            self._owns_vhost = vhost is None
            self.vhost = vhost if vhost is not None else (
                TestVhost() if broker is None else broker.new_vhost())
            if self._owns_vhost:
                self._cleanups.append(self.vhost.delete)
            if broker is None:
                machine = urlsplit(AMQP_URL)
                self.proxy = TcpProxy(target=(machine.hostname or "127.0.0.1",
                                              machine.port or 5672))
                self._cleanups.append(self.proxy.stop)
                amqp_uri = self.vhost.amqp_uri_via(self.proxy.port)
                management_url = MANAGEMENT_URL
            else:
                self.proxy = None
                amqp_uri = ";".join(self.vhost.amqp_uris)
                management_url = broker.management_url
            if postgres is not None:
                if backend != "postgres":
                    raise ValueError("a PostgresServer holds postgres databases only")
                self.database_urls = {name: postgres.create_database(f"nr_{name}")
                                      for name in self.databases}
            else:
                self.database_urls = {
                    name: databases.database_url(backend, name, self.tmp_path,
                                                 addfinalizer=self._cleanups.append)
                    for name in self.databases}
            self.ports = {name: free_port() for name in (
                *self.services, "frontdoor-status", "frontdoor-log", "frontdoor-nginx")}
            # clients reach the front door; the gateway's own port is for the front door
            self.url = f"http://127.0.0.1:{self.ports['frontdoor']}"
            self.gateway_url = f"http://127.0.0.1:{self.ports['gateway']}"
            var = self.tmp_path / "var"
            var.mkdir(exist_ok=True)
            self.env: dict[str, str] = {
                "AMQP_URI": amqp_uri,
                **{f"{name.upper()}_DATABASE_URL": url
                   for name, url in self.database_urls.items()},
                "MEDIA_ROOT": str(var / "media"),
                "SMTP_URL": smtp.url,
                # a signing key ring per purpose (the mailer reads only UNSUBSCRIBE_KEYS)
                **signing_keys.fresh(),
                "CODE_HASH_KEY": secrets.token_hex(32),
                "CODE_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "RETRY_DELAYS_MS": "200,400,800",
                "OUTBOX_POLL_SECONDS": "0.5",
                "OUTBOX_CLAIM_SECONDS": "2",
                "PUBLIC_BASE_URL": self.url,
                "NEWSREEL_VAR": str(var),
                "MAIL_FROM": "Newsreel <no-reply@newsreel.test>",
                "RABBITMQ_MANAGEMENT_URL": management_url,
                # the front door and the gateway behind it (gateway/frontdoor)
                "PORT": str(self.ports["frontdoor"]),
                "GATEWAY_PORT": str(self.ports["gateway"]),
                "FRONTDOOR_STATUS_PORT": str(self.ports["frontdoor-status"]),
                # its metrics: mtail (traffic by kind) and prometheus-nginx-exporter
                "FRONTDOOR_LOG_METRICS_PORT": str(self.ports["frontdoor-log"]),
                "FRONTDOOR_NGINX_METRICS_PORT": str(self.ports["frontdoor-nginx"]),
                "NGINX_PREFIX": str(self.tmp_path / "nginx"),
                "NGINX_SHUTDOWN_SECONDS": "2",
                "TRUSTED_PROXY_COUNT": "1",
                "PYTHONUNBUFFERED": "1",
                **(env or {}),
            }
            self.commands = {**self._default_commands(), **(commands or {})}
            self.check_events = (not set(commands or {}) & set(self.services)
                                 if check_events is None else check_events)
            for name in self.services:
                self.processes[name] = ServiceProcess(
                    name, self.commands[name], env=self._process_env(name), cwd=REPO_ROOT,
                    log_dir=self.log_dir)
        except BaseException:
            self._run_cleanups()
            raise
        self.migrated = False

    def __repr__(self) -> str:
        states = ", ".join(f"{n}={'up' if p.running else p.returncode}"
                           for n, p in self.processes.items())
        return f"<NewsreelSystem {self.backend} {self.url} {states}>"

    def __enter__(self) -> NewsreelSystem:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- wiring ----------------------------------------------------------------------------
    def _default_commands(self) -> dict[str, list[str]]:
        return {
            "migrate": [self.python, "-m", "services.shared.migrate", *self.databases],
            "auth": [self.python, "-m", "services.auth"],
            "mailer": [self.python, "-m", "services.mailer"],
            "catalog": [self.python, "-m", "services.catalog"],
            "transcoder": [self.python, "-m", "services.transcoder", "api"],
            "transcoder-worker": [self.python, "-m", "services.transcoder", "worker"],
            # the production settings (gateway/gunicorn_conf.py), on a port of its own
            "gateway": [
                _gunicorn(self.python), "-c", "python:gateway.gunicorn_conf",
                "--bind", f"127.0.0.1:{self.ports['gateway']}", "--graceful-timeout", "10",
                "gateway.wsgi:app"],
            "frontdoor": [self.python, "-m", "gateway.frontdoor", "run"],
        }

    def _process_env(self, name: str) -> dict[str, str]:
        env = {**os.environ, **self.env}
        if name in self.ports and name not in HTTP_SERVICES:
            env["METRICS_PORT"] = str(self.ports[name])
        else:
            env.pop("METRICS_PORT", None)
        return env

    def metrics_url(self, name: str) -> str:
        """`name`: a service; "frontdoor" (nginx's traffic by kind, counted by mtail) or
        "frontdoor-nginx" (its connections, by prometheus-nginx-exporter)."""
        if name == "gateway":  # Prometheus's way in: the front door's status port
            return f"http://127.0.0.1:{self.ports['frontdoor-status']}/metrics"
        if name == "frontdoor":
            return f"http://127.0.0.1:{self.ports['frontdoor-log']}/metrics"
        return f"http://127.0.0.1:{self.ports[name]}/metrics"

    def ready_check(self, name: str):
        process = self.processes[name]
        if name == "gateway":
            return http_ok(f"{self.gateway_url}/healthz")
        if name == "frontdoor":
            return http_ok(f"{self.url}/healthz")
        # once started, a service's RPC queue is declared and consumed: the gateway reaches it
        # (the gateway's /readyz asks no service, by design: gateway/health.py)
        return all_of(http_ok(self.metrics_url(name)), process.log_says(STARTED_MARKER))

    # --- life cycle ------------------------------------------------------------------------
    def migrate(self, timeout: float = 120.0) -> None:
        """`python -m services.shared.migrate <databases>` with the services' environment."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / "migrate.log"
        with open(log_path, "ab") as log:
            result = subprocess.run(
                self.commands["migrate"], cwd=REPO_ROOT, env=self._process_env("migrate"),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                timeout=timeout, check=False)
        if result.returncode != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])
            raise AssertionError(f"migrations failed ({result.returncode}): "
                                 f"{' '.join(self.commands['migrate'])}\n{tail}")
        self.migrated = True

    def start(self, name: str | None = None, extra_env: Mapping[str, str] | None = None, *,
              overrides: Mapping[str, Mapping[str, str]] | None = None, wait: bool = True,
              timeout: float = 90.0) -> NewsreelSystem:
        """`start()`: migrate, then start every service and wait until all are ready;
        `overrides` maps a service name to extra variables for this start.
        `start(name, extra_env)`: (re)start one service that is not running."""
        if self.closed:
            raise RuntimeError("this system was closed")
        if name is None:
            unknown = set(overrides or {}) - set(self.services)
            if unknown:
                raise ValueError(f"overrides for unknown services: {sorted(unknown)}")
            if not self.migrated:
                self.migrate()
            self._watch_events()
            names = [n for n in self.services if not self.processes[n].running]
            for n in names:
                self.processes[n].start((overrides or {}).get(n))
            if wait:
                # gateway first, the front door last: it answers only what the gateway
                # answers
                for n in sorted(names, key=lambda n: (n != "gateway", n == "frontdoor")):
                    self.wait_ready(n, timeout)
            return self
        if name not in self.services:
            raise ValueError(f"unknown service {name!r}; one of {self.services}")
        if not self.migrated:
            self.migrate()
        self._watch_events()
        self.processes[name].start(extra_env)
        if wait:
            self.wait_ready(name, timeout)
        return self

    def wait_ready(self, name: str, timeout: float = 90.0) -> NewsreelSystem:
        self.processes[name].wait_ready(self.ready_check(name), timeout)
        return self

    def stop(self, name: str, timeout: float = 20.0) -> int | None:
        """Graceful stop (SIGTERM, SIGKILL after `timeout`); returns the exit code."""
        return self.processes[name].stop(timeout)

    def kill(self, name: str) -> int | None:
        """SIGKILL: a crash."""
        return self.processes[name].kill()

    def restart(self, name: str, extra_env: Mapping[str, str] | None = None,
                timeout: float = 90.0) -> NewsreelSystem:
        self.stop(name)
        return self.start(name, extra_env, timeout=timeout)

    def close(self) -> None:
        """Stops every process (the gateway first), closes taps and the proxy, drops the databases
        and deletes the vhost it created. Safe to call twice; raises the first error after
        doing everything it could."""
        if self.closed:
            return
        self.closed = True
        errors: list[BaseException] = []
        crashes = self.unexpected_exits()
        # the front door and the gateway first (no new requests), then the services at once
        http = [n for n in HTTP_SERVICES if n in self.services]
        for group in (http, [n for n in self.services if n not in http]):
            for name in group:
                with contextlib.suppress(Exception):
                    self.processes[name].terminate()
            for name in group:
                try:
                    self.processes[name].stop()
                except Exception as exc:
                    errors.append(exc)
        for tap in self._taps:
            try:
                tap.close()
            except Exception as exc:
                errors.append(exc)
        broken = self.contract_problems()
        if broken:
            shown = broken[:CONTRACT_REPORT_LIMIT]
            more = len(broken) - len(shown)
            errors.append(AssertionError(
                "events published by the services break the contract (contract/events/; "
                "fix the schema if the service is right):\n" + "\n".join(shown)
                + (f"\n… and {more} more" if more else "")))
        errors.extend(self._run_cleanups())
        if crashes:
            errors.insert(0, AssertionError(
                "a service exited by itself during the test (a test that means it calls "
                "system.expect_exit(name) or system.processes[name].wait_exit()):\n"
                + "\n".join(f"--- {name} exited with {codes}; {self.processes[name].log_path}"
                            f"\n{self.processes[name].tail(40)}"
                            for name, codes in crashes.items())))
        if errors:
            raise errors[0]

    def _watch_events(self) -> None:
        """The contract's tap, bound before any service runs so that it sees every event."""
        if self.check_events and self._contract_tap is None:
            self._contract_tap = self.tap(EVENT_EXCHANGES)

    def contract_problems(self) -> list[str]:
        """One paragraph per distinct event published so far by a service that breaks the
        contract (no schema for its type, or the schema refuses it); [] when none does."""
        tap = self._contract_tap
        if tap is None:
            return []
        found, seen = [], set()
        for message in tap.messages:
            # a redelivered or re-published event comes again with the same body
            key = (message.routing_key, message.body)
            if message.injected or key in seen:
                continue
            seen.add(key)
            problems = contract.message_problems(message.body, message.routing_key,
                                                 message.properties.content_type)
            if problems:
                found.append(contract.describe(message.routing_key, message.body, problems))
        if tap.error is not None:
            found.append(f"the contract's event tap broke ({tap.error!r}): what was published "
                         "after that was not checked")
        return found

    def unexpected_exits(self) -> dict[str, list[int]]:
        """name → exit codes of the runs that ended by themselves without a test expecting it
        (checked at `close()`, which then fails the test)."""
        found = {}
        for name, process in self.processes.items():
            codes = list(process.unexpected_exits)
            if process.died_unexpectedly:
                codes.append(process.returncode)
            if codes:
                found[name] = codes
        return found

    def expect_exit(self, name: str, timeout: float = 30.0) -> int:
        """Waits for a service to end by itself (an injected fault) and returns its code."""
        return self.processes[name].wait_exit(timeout)

    def _run_cleanups(self) -> list[BaseException]:
        errors = []
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception as exc:
                errors.append(exc)
        return errors

    # --- using it --------------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """One HTTP request to the gateway (no cookie jar: use a `requests.Session()` with
        `system.url` for cookie sessions)."""
        timeout = kwargs.pop("timeout", 30)
        return requests.request(method, f"{self.url}{path}", timeout=timeout, **kwargs)

    def tap(self, exchanges: Iterable[str] = EVENT_EXCHANGES) -> EventTap:
        """An `EventTap` on this system's vhost (direct, not through the proxy), closed with
        the system."""
        tap = EventTap(self.vhost.amqp_uri, exchanges)
        self._taps.append(tap)
        return tap

    def metrics(self, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample on the service's /metrics: (sample name, sorted labels) → value."""
        response = requests.get(self.metrics_url(name), timeout=10)
        response.raise_for_status()
        samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    def metric(self, name: str, sample: str, **labels: str) -> float:
        """The sum of the samples called `sample` whose labels include `labels` (0 if none)."""
        return sum(value for (sample_name, sample_labels), value in self.metrics(name).items()
                   if sample_name == sample and set(labels.items()) <= set(sample_labels))

    def run_python(self, *args: str, timeout: float = 120.0,
                   extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
        """Runs `<python> args…` (e.g. `-m services.shared.dlq list`) with the services'
        environment; returns the completed process with its text output."""
        env = {**self._process_env("tool"), **(extra_env or {})}
        return subprocess.run([self.python, *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def wait_until(self, condition, timeout: float = 30.0, interval: float = 0.2,
                   message: str = "") -> object:
        """Polls `condition()` (e.g. a DB or API read that has no event to wait on) until it
        returns something truthy, and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(message or f"condition not met in {timeout} s")
            time.sleep(interval)



@contextlib.contextmanager
def running_system(tmp_path: str | os.PathLike, *, backend: str = "sqlite",
                   **kwargs) -> Iterator[NewsreelSystem]:
    """A started system with an `SmtpCapture` of its own (`system.smtp`); both are closed
    when the block ends, even when it fails. `kwargs` go to `NewsreelSystem`."""
    with SmtpCapture() as smtp, NewsreelSystem(backend=backend, tmp_path=tmp_path, smtp=smtp,
                                               **kwargs) as system:
        system.start()
        yield system
