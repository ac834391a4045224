"""Tests of the integration harness itself (tests/support), without the Newsreel services."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import smtplib
import socket
import sys
import threading
import time
from email.message import EmailMessage
from types import SimpleNamespace

import pika
import pika.exceptions
import pytest
import requests
import sqlalchemy as sa

from tests import conftest
from tests.support import databases, processes, rabbit
from tests.support.chaos import TcpProxy
from tests.support.processes import ServiceNotReady, ServiceProcess, free_port, http_ok, port_open
from tests.support.smtp import find_code, sent_to, text_of
from tests.support.system import NewsreelSystem

pytestmark = pytest.mark.integration


# --- TcpProxy ------------------------------------------------------------------------------------

class EchoServer:
    """A TCP server that sends back what it receives, and counts the connections it got."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    def close(self):
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo):
    with TcpProxy(target=("127.0.0.1", echo.port)) as proxy:
        yield proxy


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def echo_roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def is_closed_by_peer(sock: socket.socket) -> bool:
    """True once the peer closed or reset the connection (waits up to the socket timeout)."""
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def is_refused(port: int) -> bool:
    """True when a new connection fails: at connect time, or reset/closed right after."""
    try:
        sock = connect(port)
    except OSError:
        return True
    with sock:
        return is_closed_by_peer(sock)


def test_proxy_forwards_bytes_both_ways(proxy, echo):
    payload = os.urandom(1_000_000)
    with connect(proxy.port) as client:
        assert echo_roundtrip(client, payload) == payload
        assert echo_roundtrip(client, b"hello") == b"hello"
    assert echo.connections == 1
    assert proxy.port != echo.port
    assert proxy.bytes_forwarded >= 2 * len(payload)


def test_proxy_cut_closes_live_connections_and_accepts_new_ones(proxy, echo):
    first, second = connect(proxy.port), connect(proxy.port)
    with first, second:
        assert echo_roundtrip(first, b"one") == b"one"
        assert echo_roundtrip(second, b"two") == b"two"
        proxy.wait_for_connections(lambda n: n == 2, timeout=5)

        assert proxy.cut() == 2

        assert is_closed_by_peer(first)
        assert is_closed_by_peer(second)
        assert proxy.connection_count == 0
    with connect(proxy.port) as third:
        assert echo_roundtrip(third, b"three") == b"three"
    assert echo.connections == 3


def test_proxy_block_refuses_new_connections_until_unblocked(proxy, echo):
    live = connect(proxy.port)
    with live:
        assert echo_roundtrip(live, b"before") == b"before"
        proxy.block()
        assert is_closed_by_peer(live)
    assert is_refused(proxy.port)
    assert proxy.refused == 1
    assert echo.connections == 1          # the refused one never reached the target

    proxy.unblock()
    with connect(proxy.port) as after:
        assert echo_roundtrip(after, b"after") == b"after"
    assert echo.connections == 2


def test_proxy_carries_an_amqp_connection_and_cut_breaks_it(vhost):
    with TcpProxy() as proxy:
        params = pika.URLParameters(vhost.amqp_uri_via(proxy.port))
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        channel.queue_declare("through-the-proxy", durable=True)
        assert vhost.queue_state("through-the-proxy") is not None

        proxy.cut()
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                connection.process_data_events(time_limit=0.2)
        assert connection.is_closed


# --- RabbitMQ helpers ----------------------------------------------------------------------------

def test_vhost_is_created_with_permissions_and_deleted(rabbit_vhost):
    vhost = rabbit.TestVhost()
    try:
        assert vhost.name.startswith("newsreel-test-") and vhost.name != rabbit_vhost.name
        names = [v["name"] for v in rabbit.management("GET", "/vhosts").json()]
        assert vhost.name in names
        pika.BlockingConnection(pika.URLParameters(vhost.amqp_uri)).close()
    finally:
        vhost.delete()
    names = [v["name"] for v in rabbit.management("GET", "/vhosts").json()]
    assert vhost.name not in names


def test_event_tap_collects_messages_from_topic_exchanges(vhost):
    with vhost.tap(["auth.events", "catalog.events"]) as tap:
        exchange = rabbit.management(
            "GET", f"/exchanges/{vhost.name}/auth.events").json()
        assert (exchange["type"], exchange["durable"]) == ("topic", True)

        vhost.publish("auth.events", "account.registered.v1", {"id": "e1"},
                      headers={"x-test": "yes"}, message_id="e1")
        vhost.publish("catalog.events", "news.published.v1", b"\x00raw")

        [registered] = tap.wait_for("account.registered.v1", timeout=10)
        assert registered.exchange == "auth.events"
        assert registered.json() == {"id": "e1"}
        assert registered.headers == {"x-test": "yes"}
        assert registered.properties.message_id == "e1"
        assert registered.properties.content_type == "application/json"
        [published] = tap.wait_for(lambda m: m.exchange == "catalog.events", timeout=10)
        assert published.body == b"\x00raw"
        assert [m.routing_key for m in tap.messages] == [
            "account.registered.v1", "news.published.v1"]
        with pytest.raises(AssertionError, match="wanted 1"):
            tap.wait_for("never.sent.v1", timeout=0.5)


def test_queue_helpers_count_ready_messages(vhost):
    with rabbit.blocking_channel(vhost.amqp_uri) as channel:
        channel.queue_declare("work", durable=True)
    assert vhost.queue_messages("missing") == 0
    assert vhost.queue_state("missing") is None
    for n in range(3):
        vhost.publish("", "work", f"job {n}")
    assert vhost.queue_messages("work") == 3
    state = vhost.wait_for_queue("work", lambda q: q.messages_ready == 3, timeout=10)
    assert state.consumers == 0
    assert "work" in vhost.queues()
    with pytest.raises(AssertionError, match="never matched"):
        vhost.wait_for_queue("work", lambda q: q.consumers > 0, timeout=0.5)


def test_close_all_connections_breaks_clients_but_spares_the_tap(vhost):
    connection = pika.BlockingConnection(pika.URLParameters(vhost.amqp_uri))
    try:
        with vhost.tap(["auth.events"]) as tap:
            vhost.wait_for_connections(lambda n: n == 1, timeout=30)
            vhost.wait_for_connections(lambda n: n == 2, timeout=30, include_harness=True)
            assert vhost.close_all_connections() == 1
            with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as closed:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    connection.process_data_events(time_limit=0.2)
            assert closed.value.reply_code == 320           # CONNECTION_FORCED
            vhost.publish("auth.events", "still.listening.v1", b"{}")
            tap.wait_for("still.listening.v1", timeout=10)

            assert vhost.close_all_connections(include_harness=True) >= 1
            with pytest.raises(AssertionError, match="broke"):
                tap.wait_for("never.v1", timeout=15)
    finally:
        with contextlib.suppress(Exception):
            connection.close()


# --- SMTP ----------------------------------------------------------------------------------------

def send_mail(smtp, to="ana@example.com", body="Your code is 123456.\nIt expires in 15 min."):
    message = EmailMessage()
    message["From"] = "Newsreel <no-reply@newsreel.test>"
    message["To"] = to
    message["Subject"] = "Votre code / your code"
    message.set_content(body)
    message.add_alternative(f"<p>{body}</p>", subtype="html")
    host, port = smtp.url.removeprefix("smtp://").split(":")
    with smtplib.SMTP(host, int(port), timeout=10) as client:
        client.send_message(message)


def test_smtp_capture_receives_and_parses_mail(smtp):
    assert smtp.url == f"smtp://127.0.0.1:{smtp.port}" and smtp.port > 0
    sender = threading.Thread(target=send_mail, args=(smtp,))
    sender.start()
    [mail] = smtp.wait_for(sent_to("ANA@example.com"), timeout=10)
    sender.join()
    assert mail.envelope_from == "no-reply@newsreel.test"
    assert mail.envelope_to == ("ana@example.com",)
    assert mail["Subject"] == "Votre code / your code"
    assert text_of(mail).startswith("Your code is 123456.")
    assert find_code(mail) == "123456"
    assert smtp.messages == [mail]
    smtp.clear()
    assert smtp.messages == []


def test_find_code_requires_exactly_one_distinct_code(smtp):
    send_mail(smtp, to="a@example.com", body="Code 111111. Again: 111111")
    send_mail(smtp, to="b@example.com", body="Codes 111111 and 222222")
    send_mail(smtp, to="c@example.com", body="No code here, only 12345 and 1234567.")
    a, b, c = (smtp.wait_for(sent_to(f"{x}@example.com"), timeout=10)[0] for x in "abc")
    assert find_code(a) == "111111"
    with pytest.raises(AssertionError, match="111111"):
        find_code(b)
    with pytest.raises(AssertionError, match="none"):
        find_code(c)


def test_smtp_capture_can_fail_temporarily_and_reject(smtp):
    smtp.fail_temporarily(True)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_mail(smtp)
    assert refused.value.recipients["ana@example.com"][0] == 451
    smtp.fail_temporarily(False)

    smtp.reject(True)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as rejected:
        send_mail(smtp)
    assert rejected.value.recipients["ana@example.com"][0] == 550
    smtp.reject(False)

    send_mail(smtp)
    assert len(smtp.wait_for(timeout=10)) == 1
    assert [a.code for a in smtp.wait_for_attempts(count=3, timeout=10)] == [451, 550, 250]
    with pytest.raises(AssertionError, match="wanted 2"):
        smtp.wait_for(count=2, timeout=0.3)


# --- databases -----------------------------------------------------------------------------------

def use_database(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (v VARCHAR(10))"))
            conn.execute(sa.text("INSERT INTO t VALUES ('ok')"))
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT v FROM t")).scalars())
    finally:
        engine.dispose()


def test_postgres_database_is_created_usable_and_dropped(tmp_path):
    finalizers = []
    url = databases.database_url("postgres", "Auth-Service", tmp_path,
                                 addfinalizer=finalizers.append)
    name = databases.database_name(url)
    assert name.startswith("nr_auth_service_")
    assert databases.database_exists(name)
    # a connection left open by a "service" must not prevent the drop
    engine = sa.create_engine(url)
    held = engine.connect()
    assert use_database(url) == ["ok"]
    try:
        [drop] = finalizers
        drop()
        assert not databases.database_exists(name)
    finally:
        with contextlib.suppress(Exception):
            held.close()
        engine.dispose()


def test_sqlite_database_is_a_file_under_tmp(tmp_path):
    url = databases.database_url("sqlite", "mailer", tmp_path)
    assert url.startswith(f"sqlite:///{tmp_path}")
    assert use_database(url) == ["ok"]
    with pytest.raises(ValueError):
        databases.database_url("mysql", "x", tmp_path)


# --- processes -----------------------------------------------------------------------------------

SLEEPER = """
import os, signal, subprocess, sys, time
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(f"ready pid={os.getpid()} child={child.pid} greeting={os.environ.get('GREETING')}",
      flush=True)
time.sleep(600)
"""


def child_pid(process: ServiceProcess) -> int:
    process.wait_for_log("child=", timeout=20)
    line = process.log_since_start().split("child=")[1]
    return int(line.split()[0])


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0): read its state
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[1].split()[0] == "Z"


def wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not pid_gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def sleeper(tmp_path):
    process = ServiceProcess("sleeper", [sys.executable, "-c", SLEEPER],
                             env={**os.environ, "GREETING": "hi"}, log_dir=tmp_path / "logs")
    yield process
    process.kill()


def test_service_process_start_kill_restart_stop(sleeper, tmp_path):
    sleeper.start()
    assert sleeper.running and sleeper.returncode is None
    sleeper.wait_ready(sleeper.log_says("ready"), timeout=20)
    assert "greeting=hi" in sleeper.log_since_start()
    child = child_pid(sleeper)

    assert sleeper.kill() == -signal.SIGKILL
    assert sleeper.returncode == -signal.SIGKILL
    assert wait_gone(child), "SIGKILL must reach the whole process group"

    sleeper.restart(extra_env={"GREETING": "again"})
    sleeper.wait_ready(sleeper.log_says("greeting=again"), timeout=20)
    assert sleeper.starts == 2
    child = child_pid(sleeper)

    assert sleeper.stop(timeout=20) == -signal.SIGTERM
    assert wait_gone(child)
    log = (tmp_path / "logs" / "sleeper.log").read_text()
    assert log.count("===== start #") == 2
    assert "greeting=hi" in log and "greeting=again" in log
    assert processes.processes_of_this_test() == [sleeper]


def test_stop_escalates_to_sigkill(tmp_path):
    process = ServiceProcess("stubborn", [sys.executable, "-c", SLEEPER, "--ignore-term"],
                             log_dir=tmp_path)
    try:
        process.start().wait_ready(process.log_says("ready"), timeout=20)
        started = time.monotonic()
        assert process.stop(timeout=1) == -signal.SIGKILL
        assert time.monotonic() - started < 10
        assert "SIGKILL" in process.log_text()
    finally:
        process.kill()


def test_wait_ready_fails_at_once_when_the_process_dies(tmp_path):
    process = ServiceProcess(
        "crasher", [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"],
        log_dir=tmp_path)
    process.start()
    started = time.monotonic()
    with pytest.raises(ServiceNotReady, match=r"(?s)exited with 3.*boom: bad config"):
        process.wait_ready(lambda: False, timeout=60)
    assert time.monotonic() - started < 30


def test_http_and_port_ready_checks(tmp_path):
    port = free_port()
    assert free_port() != port
    assert not port_open(port)() and not http_ok(f"http://127.0.0.1:{port}/")()
    server = ServiceProcess(
        "http", [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path, log_dir=tmp_path)
    try:
        server.start().wait_ready(http_ok(f"http://127.0.0.1:{port}/"), timeout=30)
        assert port_open(port)()
        assert not http_ok(f"http://127.0.0.1:{port}/missing")()
    finally:
        server.stop()
    assert not port_open(port)()


def test_failed_test_report_gets_the_log_tails(sleeper):
    sleeper.start().wait_ready(sleeper.log_says("ready"), timeout=20)
    report = SimpleNamespace(failed=True, sections=[])
    hook = conftest.pytest_runtest_makereport(item=None, call=None)
    next(hook)
    with pytest.raises(StopIteration) as done:
        hook.send(report)
    assert done.value.value is report
    [(title, text)] = report.sections
    assert title.startswith("sleeper log tail (running")
    assert "greeting=hi" in text

    passed = SimpleNamespace(failed=False, sections=[])
    hook = conftest.pytest_runtest_makereport(item=None, call=None)
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(passed)
    assert passed.sections == []


# --- NewsreelSystem, with stand-ins for the services ---------------------------------------------

STUB_SERVICE = r"""
import http.server, json, os, signal, sys, threading
import pika

name = sys.argv[1]
port = int(os.environ["METRICS_PORT"])
with open(os.path.join(os.environ["NEWSREEL_VAR"], f"{name}.env.json"), "w") as out:
    json.dump(dict(os.environ), out)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b'stub_up{service="%s"} 1\n' % name.encode())
    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
connection = pika.BlockingConnection(pika.URLParameters(os.environ["AMQP_URI"]))
channel = connection.channel()
channel.exchange_declare(f"{name}.events", "topic", durable=True)
channel.basic_publish(f"{name}.events", f"{name}.started.v1",
                      json.dumps({"extra": os.environ.get("EXTRA")}).encode())
signal.signal(signal.SIGTERM, lambda *args: sys.exit(0))
print(f"{name} started, metrics on :{port}", flush=True)
exit_file = os.path.join(os.environ["NEWSREEL_VAR"], f"{name}.exit")
while not os.path.exists(exit_file):      # a test makes the file: the stand-in "crashes"
    connection.process_data_events(time_limit=0.1)
os.remove(exit_file)
sys.exit(3)
"""

STUB_GATEWAY = r"""
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path in ("/healthz", "/readyz") else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
port = int(os.environ["GATEWAY_PORT"])  # behind the real front door
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""

STUB_MIGRATE = (
    "import os, sys; open(os.path.join(os.environ['NEWSREEL_VAR'], 'migrated'), 'w')"
    ".write(' '.join(sys.argv[1:]))")


def stub_commands(tmp_path):
    (tmp_path / "stub_service.py").write_text(STUB_SERVICE)
    (tmp_path / "stub_gateway.py").write_text(STUB_GATEWAY)
    return {
        "migrate": [sys.executable, "-c", STUB_MIGRATE, "auth", "mailer", "catalog"],
        "auth": [sys.executable, str(tmp_path / "stub_service.py"), "auth"],
        "mailer": [sys.executable, str(tmp_path / "stub_service.py"), "mailer"],
        "catalog": [sys.executable, str(tmp_path / "stub_service.py"), "catalog"],
        "gateway": [sys.executable, str(tmp_path / "stub_gateway.py")],
    }


def test_newsreel_system_wires_and_manages_the_processes(tmp_path, smtp, db_backend):
    system = NewsreelSystem(backend=db_backend, tmp_path=tmp_path / "sys", smtp=smtp,
                            env={"RATE_LIMIT_TEST": "5"},
                            commands=stub_commands(tmp_path))
    try:
        tap = system.tap(["auth.events", "mailer.events"])
        system.start(overrides={"auth": {"EXTRA": "first"}})

        var = tmp_path / "sys" / "var"
        assert (var / "migrated").read_text() == "auth mailer catalog"
        auth_env = json.loads((var / "auth.env.json").read_text())
        mailer_env = json.loads((var / "mailer.env.json").read_text())
        assert auth_env["AMQP_URI"].endswith(f":{system.proxy.port}/{system.vhost.name}")
        assert auth_env["AUTH_DATABASE_URL"] == system.database_urls["auth"]
        assert auth_env["MAILER_DATABASE_URL"].startswith(
            "sqlite:///" if db_backend == "sqlite" else "postgresql+psycopg2://")
        assert auth_env["SMTP_URL"] == smtp.url
        assert auth_env["PUBLIC_BASE_URL"] == system.url
        assert auth_env["RETRY_DELAYS_MS"] == "200,400,800"
        assert auth_env["RATE_LIMIT_TEST"] == "5"
        assert auth_env["EXTRA"] == "first" and "EXTRA" not in mailer_env
        assert auth_env["METRICS_PORT"] != mailer_env["METRICS_PORT"]
        assert len(auth_env["CODE_ENCRYPTION_KEY"]) == 44
        for key in ("UNSUBSCRIBE_KEYS", "CODE_HASH_KEY", "CODE_ENCRYPTION_KEY", "MAIL_FROM"):
            assert auth_env[key] == mailer_env[key] == system.env[key]

        # every service reached the test vhost through the proxy
        tap.wait_for("auth.started.v1", timeout=10)
        tap.wait_for("mailer.started.v1", timeout=10)
        assert system.proxy.connection_count == 3
        assert system.api("GET", "/healthz").status_code == 200
        assert system.metric("auth", "stub_up", service="auth") == 1

        # a crash, then a start without the first start's overrides
        tap.clear()
        system.kill("auth")
        assert system.processes["auth"].returncode == -signal.SIGKILL
        system.proxy.wait_for_connections(lambda n: n == 2, timeout=10)
        system.start("auth", extra_env={"EXTRA": "second"})
        [again] = tap.wait_for("auth.started.v1", timeout=10)
        assert again.json() == {"extra": "second"}

        assert system.stop("mailer") == 0            # the stand-in exits 0 on SIGTERM
        system.restart("mailer")
        assert system.processes["mailer"].running
    finally:
        system.close()
    assert all(not p.running for p in system.processes.values())
    names = [v["name"] for v in rabbit.management("GET", "/vhosts").json()]
    assert system.vhost.name not in names
    if db_backend == "postgres":
        for url in system.database_urls.values():
            assert not databases.database_exists(databases.database_name(url))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{system.url}/healthz", timeout=2)


def test_newsreel_system_reports_failed_migrations(tmp_path, smtp):
    commands = stub_commands(tmp_path)
    commands["migrate"] = [sys.executable, "-c", "raise SystemExit('no such revision: abc')"]
    system = NewsreelSystem(backend="sqlite", tmp_path=tmp_path / "sys", smtp=smtp,
                            commands=commands)
    try:
        with pytest.raises(AssertionError, match=r"(?s)migrations failed.*no such revision"):
            system.start()
        assert not any(p.running for p in system.processes.values())
    finally:
        system.close()


def test_newsreel_system_fails_the_test_when_a_service_dies_by_itself(tmp_path, smtp):
    system = NewsreelSystem(backend="sqlite", tmp_path=tmp_path / "sys", smtp=smtp,
                            commands=stub_commands(tmp_path))
    try:
        system.start()
        var = tmp_path / "sys" / "var"
        # a crash the test expects (an injected fault) is fine once the test waited for it
        (var / "auth.exit").touch()
        assert system.expect_exit("auth") == 3
        system.start("auth")
        assert system.unexpected_exits() == {}
        # one it does not expect fails the test at close()
        (var / "mailer.exit").touch()
        system.processes["mailer"].popen.wait(20)
        os.kill(system.processes["gateway"].pid, signal.SIGKILL)   # behind the harness's back
        system.processes["gateway"].popen.wait(20)
        assert system.unexpected_exits() == {"mailer": [3], "gateway": [-signal.SIGKILL]}
    finally:
        with pytest.raises(AssertionError, match=r"(?s)exited by itself.*mailer exited with \[3\]"):
            system.close()
    assert not system.processes["auth"].running
