"""A three-node RabbitMQ cluster of a test's own, on this machine: Debian's RabbitMQ started
three times beside the machine's own broker (which other tests share and this never touches),
each node with its own name, ports, data and logs under a directory of its own, clustered by
`rabbitmqctl join_cluster` as an operator would.

    with RabbitCluster(tmp_path) as cluster:        # ~10 s: the nodes start in parallel
        vhost = cluster.new_vhost()                  # default queue type quorum, as in k8s
        vhost.amqp_uris                              # one address per node
        cluster.stop_node(cluster.nodes[0])          # `rabbitmqctl stop`: the node goes away

Each node runs the Erlang start script (`/usr/lib/rabbitmq/bin/rabbitmq-server`) directly:
Debian's /usr/sbin wrappers switch to the `rabbitmq` user and to /var/lib/rabbitmq, the
machine broker's home. The scripts themselves run fine as root with HOME pointing at a
directory that holds the cluster's own Erlang cookie (the CLI tools read it from there too).
The node names carry a random part, so that two test runs at once (other engineers') never
meet in the machine's epmd. The management plugin runs on every node (the harness creates
vhosts and reads queue leaders through whichever node is up).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests

from .processes import free_port

SCRIPTS = Path("/usr/lib/rabbitmq/bin")
USER = ("guest", "guest")   # every node's first boot creates it; joining nodes take the first's


def _q(part: str) -> str:
    return quote(part, safe="")


@dataclass
class Node:
    name: str                   # nr-<run>-a@localhost
    amqp_port: int
    dist_port: int
    management_port: int
    root: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def amqp_uri(self, vhost: str) -> str:
        return f"amqp://{USER[0]}:{USER[1]}@127.0.0.1:{self.amqp_port}/{_q(vhost)}"

    def log_tail(self, lines: int = 40) -> str:
        log = self.root / "log" / f"{self.name}.log"
        if not log.exists():
            log = self.root / "stdout.log"
        with contextlib.suppress(OSError):
            return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"


_live: set[RabbitCluster] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Safety net for a run that ended before the fixtures' finalizers."""
    for cluster in list(_live):
        with contextlib.suppress(Exception):
            cluster.close()


class RabbitCluster:
    def __init__(self, size: int = 3, *, start_timeout: float = 90.0):
        self.run_id = secrets.token_hex(3)
        # not under pytest's tmp_path: Unix socket and path lengths, and a plain rmtree at close
        self.root = Path(tempfile.mkdtemp(prefix=f"newsreel-rmq-{self.run_id}-"))
        self.home = self.root / "home"
        self.home.mkdir()
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
        # an empty env file: /etc/rabbitmq/rabbitmq-env.conf names the machine broker's node
        self.env_file = self.root / "rabbitmq-env.conf"
        self.env_file.write_text("")
        self.nodes = [self._node(chr(ord("a") + i)) for i in range(size)]
        self.closed = False
        _live.add(self)
        try:
            started = time.monotonic()
            with ThreadPoolExecutor(size) as pool:
                list(pool.map(lambda n: self._boot(n, start_timeout), self.nodes))
            self.timings = {"boot": time.monotonic() - started}
            first, *others = self.nodes
            with ThreadPoolExecutor(max(1, len(others))) as pool:
                list(pool.map(lambda n: self._join(n, first), others))
            self._wait_clustered(start_timeout)
            self.timings["clustered"] = time.monotonic() - started
        except BaseException:
            self.close()
            raise

    # --- set-up --------------------------------------------------------------------------------
    def _node(self, letter: str) -> Node:
        node = Node(name=f"nr-{self.run_id}-{letter}@localhost", amqp_port=free_port(),
                    dist_port=free_port(), management_port=free_port(),
                    root=self.root / letter)
        node.root.mkdir()
        (node.root / "rabbitmq.conf").write_text("\n".join([
            f"listeners.tcp.1 = 127.0.0.1:{node.amqp_port}",
            f"management.tcp.port = {node.management_port}",
            "management.tcp.ip = 127.0.0.1",
            # the management API's queue figures every second, not five
            "collect_statistics_interval = 1000",
            "",
        ]))
        (node.root / "enabled_plugins").write_text("[rabbitmq_management].\n")
        return node

    def _env(self, node: Node | None = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("RABBITMQ_", "ERL_"))}
        env.update(HOME=str(self.home), RABBITMQ_CONF_ENV_FILE=str(self.env_file),
                   ERL_EPMD_ADDRESS="127.0.0.1", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        if node is not None:
            env.update(
                RABBITMQ_NODENAME=node.name,
                RABBITMQ_DIST_PORT=str(node.dist_port),
                RABBITMQ_CONFIG_FILE=str(node.root / "rabbitmq.conf"),
                RABBITMQ_ENABLED_PLUGINS_FILE=str(node.root / "enabled_plugins"),
                RABBITMQ_MNESIA_BASE=str(node.root / "mnesia"),
                RABBITMQ_LOG_BASE=str(node.root / "log"),
                RABBITMQ_PID_FILE=str(node.root / "pid"),
                # the node's distribution port on loopback only, as the machine broker's
                RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface "
                                                    "{127,0,0,1}",
            )
        return env

    def _boot(self, node: Node, timeout: float) -> None:
        with open(node.root / "stdout.log", "ab") as out:
            node.process = subprocess.Popen(
                [str(SCRIPTS / "rabbitmq-server")], env=self._env(node), cwd=node.root,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait_listening(node, timeout)

    def _wait_listening(self, node: Node, timeout: float) -> None:
        """The AMQP listener opens last in a node's boot: the node is up once it accepts."""
        deadline = time.monotonic() + timeout
        while True:
            if not node.running:
                raise RuntimeError(f"RabbitMQ node {node.name} exited while starting:\n"
                                   f"{node.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", node.amqp_port), timeout=1):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {node.name} not up in {timeout} s:\n"
                                   f"{node.log_tail()}")
            time.sleep(0.2)

    def ctl(self, node: Node, *args: str, timeout: float = 60.0) -> str:
        """`rabbitmqctl -n <node> args…` with the cluster's cookie; its output."""
        result = subprocess.run([str(SCRIPTS / "rabbitmqctl"), "-n", node.name, *args],
                                env=self._env(), cwd=self.root, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {node.name} {' '.join(args)} failed "
                               f"({result.returncode}): {result.stdout}{result.stderr}")
        return result.stdout

    def _join(self, node: Node, first: Node) -> None:
        self.ctl(node, "stop_app")
        self.ctl(node, "join_cluster", first.name)
        self.ctl(node, "start_app")

    def _wait_clustered(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            running = self.running_nodes()
            if running == {n.name for n in self.nodes}:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster not formed in {timeout} s: running {running}")
            time.sleep(0.3)

    # --- the management API, through any node that is up --------------------------------------
    @property
    def management_url(self) -> str:
        """A running node's management API (the first that is up)."""
        for node in self.nodes:
            if node.running:
                return node.management_url
        raise RuntimeError("no node of the cluster is running")

    def management(self, method: str, path: str, expect=(200, 201, 204),
                   **kwargs) -> requests.Response:
        response = requests.request(method, f"{self.management_url}/api{path}", auth=USER,
                                    timeout=kwargs.pop("timeout", 15), **kwargs)
        if response.status_code not in tuple(expect):
            raise AssertionError(f"cluster management {method} {path}: "
                                 f"{response.status_code} {response.text[:500]}")
        return response

    def running_nodes(self) -> set[str]:
        with contextlib.suppress(requests.RequestException, AssertionError, RuntimeError):
            return {n["name"] for n in self.management("GET", "/nodes").json()
                    if n.get("running")}
        return set()

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def new_vhost(self, default_queue_type: str = "quorum") -> ClusterVhost:
        return ClusterVhost(self, default_queue_type)

    # --- failures --------------------------------------------------------------------------------
    def stop_node(self, node: Node, timeout: float = 60.0) -> None:
        """`rabbitmqctl stop`: the node closes its client connections and halts; its quorum
        queue replicas elect a new leader among the others."""
        self.ctl(node, "stop", timeout=timeout)
        if node.process is not None:
            node.process.wait(timeout)

    # --- the end ---------------------------------------------------------------------------------
    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for node in self.nodes:
            if node.running:
                with contextlib.suppress(OSError):
                    os.killpg(node.process.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    node.process.wait(10)
        _live.discard(self)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> RabbitCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ClusterVhost:
    """A fresh vhost on the cluster whose durable queues declared without a type are quorum
    queues (the vhost's default queue type, as deploy/k8s sets it), full rights for the
    user; `delete()` removes it. What `NewsreelSystem` needs of a vhost: `name`, `amqp_uris`
    (one per node), `amqp_uri` (for the harness's own connections: the last node's, so that a
    test stopping the node the services use first keeps its taps) and `delete()`."""

    __test__ = False

    def __init__(self, cluster: RabbitCluster, default_queue_type: str = "quorum"):
        self.cluster = cluster
        self.name = f"newsreel-test-{secrets.token_hex(4)}"
        cluster.management("PUT", f"/vhosts/{_q(self.name)}",
                           json={"description": "newsreel cluster test",
                                 # the HTTP API's name for it up to 3.12; later ones too
                                 "defaultqueuetype": default_queue_type,
                                 "default_queue_type": default_queue_type})
        cluster.management("PUT", f"/permissions/{_q(self.name)}/{_q(USER[0])}",
                           json={"configure": ".*", "write": ".*", "read": ".*"})
        self.deleted = False

    @property
    def amqp_uris(self) -> list[str]:
        return [node.amqp_uri(self.name) for node in self.cluster.nodes]

    @property
    def harness_node(self) -> Node:
        return self.cluster.nodes[-1]

    @property
    def amqp_uri(self) -> str:
        return self.harness_node.amqp_uri(self.name)

    def queues(self) -> dict[str, dict]:
        """name → the management API's row of each queue of the vhost (`type`, `leader`,
        `members`, `node`…)."""
        return {row["name"]: row
                for row in self.cluster.management("GET", f"/queues/{_q(self.name)}").json()}

    def leaders(self) -> dict[str, list[str]]:
        """node name → the quorum queues it leads."""
        found: dict[str, list[str]] = {}
        for row in self.queues().values():
            if row.get("type") == "quorum" and row.get("leader"):
                found.setdefault(row["leader"], []).append(row["name"])
        return found

    def connections(self) -> list[dict]:
        return self.cluster.management("GET", f"/vhosts/{_q(self.name)}/connections").json()

    def delete(self) -> None:
        """Best effort: the cluster is thrown away with everything in it anyway (a vhost
        holding a queue whose only node is down can take long to delete)."""
        if not self.deleted and not self.cluster.closed:
            with contextlib.suppress(requests.RequestException, AssertionError, RuntimeError):
                self.cluster.management("DELETE", f"/vhosts/{_q(self.name)}",
                                        expect=(200, 204, 404), timeout=30)
        self.deleted = True

    def __repr__(self) -> str:
        return f"<ClusterVhost {self.name}>"
