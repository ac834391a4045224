"""Corrections to nameko 2.14.1, applied before a service starts (the runner) and before the
gateway makes its first RPC call (gateway/rpc.py).

1. nameko acks a message only "if the message connection is alive; otherwise the message will
already have been reclaimed by the broker", but it only recognises amqp's ConnectionError: a
connection that dies under it raises a socket error (BrokenPipeError, ConnectionResetError)
instead, which escapes the worker and kills the whole container. The intent holds for those
too: the broker redelivers the unacked message, so it is safe to let it go.

2. RPC calls carry passwords, verification codes and session tokens. nameko declares the
request queue `rpc-<service>` durable without a type (on a vhost whose default type is quorum,
as in Kubernetes, that is a quorum queue: every message goes to a Raft log on disk, on every
node), its reply queues durable too, and publishes requests and replies persistent. Here:
- the request queue is a classic queue, named so explicitly (the vhost default does not apply),
  and transient (not durable): on a cluster a classic queue lives on one node, and a durable
  one whose node stops can be declared again by no one (404 "home node … is down") until that
  node is back, every call to the service failing meanwhile; a transient one goes with its
  node, and the service, reconnecting to another node, declares it there
  (tests/test_rabbitmq_cluster.py). It is shared by every replica, so it cannot be exclusive:
  RabbitMQ 4.3 refuses such a queue unless `deprecated_features.permit.transient_nonexcl_queues`
  is set, which deploy/k8s/base/rabbitmq.yaml does;
- a reply queue is exclusive to the caller's connection and deleted with it (classic, never
  durable): no reply outlives the caller that waits for it;
- requests and replies are published transient (delivery mode 1), so the broker never writes
  them to its message store to survive a restart. (A classic queue may still page a backlog
  out to its files, which a restart discards: a short message TTL, a policy in Kubernetes,
  keeps such a backlog short, and the broker's volume is the last line.)

3. nameko logs AMQP_URI when it cannot connect, with the first address's password masked
only: with a list of brokers (services.shared.config.amqp_addresses) the others' would be
written out. Every one is masked."""

import logging
import uuid

from kombu import Queue
from nameko import messaging as nameko_messaging
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import NON_PERSISTENT
from nameko.messaging import QueueConsumer

from .config import redact_amqp_uri

log = logging.getLogger(__name__)

# Given explicitly so that no vhost default type applies (declare arguments win over it).
RPC_QUEUE_ARGUMENTS = {"x-queue-type": "classic"}


def _tolerate_dead_connection(settle):
    def settle_or_let_go(self, message):
        try:
            settle(self, message)
        except OSError as error:
            log.warning("broker connection lost before %s (%s); the broker will redeliver",
                        settle.__name__, error)
    settle_or_let_go.__name__ = settle.__name__
    return settle_or_let_go


class TransientPublisher(Publisher):
    """What publishes RPC requests and replies: never persistent."""

    delivery_mode = NON_PERSISTENT


def rpc_request_queue(service_name: str, config: dict) -> Queue:
    """`rpc-<service>`, as nameko names and binds it, declared classic."""
    return Queue(nameko_rpc.RPC_QUEUE_TEMPLATE.format(service_name),
                 exchange=nameko_rpc.get_rpc_exchange(config),
                 routing_key=f"{service_name}.*", durable=False,
                 queue_arguments=dict(RPC_QUEUE_ARGUMENTS))


def rpc_reply_queue(service_name: str, routing_key: str, config: dict) -> Queue:
    """A caller's reply queue, as nameko names and binds it, exclusive and auto-deleted."""
    return Queue(nameko_rpc.RPC_REPLY_QUEUE_TEMPLATE.format(service_name, routing_key),
                 exchange=nameko_rpc.get_rpc_exchange(config), routing_key=routing_key,
                 durable=False, exclusive=True, auto_delete=True,
                 queue_arguments={**RPC_QUEUE_ARGUMENTS,
                                  "x-expires": nameko_rpc.RPC_REPLY_QUEUE_TTL})


# nameko's own setup() of RpcConsumer and ReplyListener (nameko/rpc.py), with the queues above.
# Replaced whole: the standalone proxy's consumer declares the queue inside setup().

def _rpc_consumer_setup(self):
    if self.queue is None:
        self.queue = rpc_request_queue(self.container.service_name, self.container.config)
        self.queue_consumer.register_provider(self)
        self._registered = True


def _reply_listener_setup(self):
    self.routing_key = str(uuid.uuid4())
    self.queue = rpc_reply_queue(self.container.service_name, self.routing_key,
                                 self.container.config)
    self.queue_consumer.register_provider(self)


def apply() -> None:
    if getattr(QueueConsumer.ack_message, "_newsreel_fixed", False):
        return
    for name in ("ack_message", "requeue_message"):
        fixed = _tolerate_dead_connection(getattr(QueueConsumer, name))
        fixed._newsreel_fixed = True
        setattr(QueueConsumer, name, fixed)
    nameko_rpc.RpcConsumer.setup = _rpc_consumer_setup
    nameko_rpc.ReplyListener.setup = _reply_listener_setup
    nameko_rpc.MethodProxy.publisher_cls = TransientPublisher
    nameko_rpc.Responder.publisher_cls = TransientPublisher
    nameko_messaging.sanitize_url = redact_amqp_uri
