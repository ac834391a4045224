"""RPC calls carry passwords, codes and session tokens (issue 10, point 8): their queues and
messages must stay as short-lived as the call.

Against the real broker with the real auth service (its own process, as in production) and the
gateway's own RPC client: the request queue is a classic queue whatever the vhost's default
type (in Kubernetes the vhost's default is quorum, whose Raft log writes every message to disk
on three nodes), the reply queue lives and dies with the caller's connection, and both the
request and the reply are published transient (delivery mode 1: never written to the
message store to survive a restart)."""

import pytest

from gateway.rpc import NamekoRpc
from tests.support.rabbit import TappedMessage, management
from tests.support.smtp import SmtpCapture
from tests.support.system import NewsreelSystem

pytestmark = pytest.mark.integration

REPLY_PREFIX = "rpc.reply-standalone_rpc_proxy-"


def queue_definition(vhost: str, name_or_prefix: str) -> dict:
    """The management API's row for the queue (by name, or the one whose name starts so)."""
    rows = management("GET", f"/queues/{vhost}?columns=name,durable,auto_delete,exclusive,"
                              "arguments,type").json()
    found = [r for r in rows if r["name"] == name_or_prefix
             or (name_or_prefix.endswith("-") and r["name"].startswith(name_or_prefix))]
    assert len(found) == 1, (name_or_prefix, [r["name"] for r in rows])
    return found[0]


def is_reply(message: TappedMessage) -> bool:
    return not message.routing_key.startswith("auth.")


@pytest.fixture(scope="module")
def auth_system(tmp_path_factory):
    with SmtpCapture() as smtp, NewsreelSystem(
            backend="sqlite", tmp_path=tmp_path_factory.mktemp("rpc"), smtp=smtp) as system:
        system.start("auth")
        yield system


def test_rpc_queues_are_classic_and_the_replies_leave_with_the_caller(auth_system):
    vhost = auth_system.vhost
    tap = vhost.tap(["nameko-rpc"])  # a copy of every request and reply on the RPC exchange
    rpc = NamekoRpc(vhost.amqp_uri, pool_size=1, timeout=10, ping_timeout=10)
    try:
        rpc.ping("auth")
        [request] = tap.wait_for("auth.ping")
        [reply] = tap.wait_for(is_reply)
        # Not persistent: the broker never keeps them for a restart.
        assert request.properties.delivery_mode == 1
        assert reply.properties.delivery_mode == 1

        served = queue_definition(vhost.name, "rpc-auth")
        # Explicitly classic: a vhost whose default type is quorum would otherwise make it one.
        assert served["arguments"].get("x-queue-type") == "classic"
        assert served["type"] == "classic"
        # Transient, shared by the replicas: on a cluster it goes with its node and is declared
        # again on another (a durable classic queue would be stuck on its stopped node).
        assert served["durable"] is False and served["exclusive"] is False

        replies = queue_definition(vhost.name, REPLY_PREFIX)
        assert replies["arguments"].get("x-queue-type") == "classic"
        assert (replies["durable"], replies["exclusive"], replies["auto_delete"]) == (
            False, True, True)
    finally:
        rpc.close()
        tap.close()
    # The caller gone, its reply queue is gone with it (nothing of a reply is left behind).
    auth_system.wait_until(lambda: not any(
        q.startswith(REPLY_PREFIX) for q in vhost.queues()), timeout=30)
