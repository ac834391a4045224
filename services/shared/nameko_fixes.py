"""One correction to nameko 2.14.1, applied by the runner before a service starts.

nameko acks a message only "if the message connection is alive; otherwise the message will
already have been reclaimed by the broker", but it only recognises amqp's ConnectionError: a
connection that dies under it raises a socket error (BrokenPipeError, ConnectionResetError)
instead, which escapes the worker and kills the whole container. The intent holds for those
too: the broker redelivers the unacked message, so it is safe to let it go."""

import logging

from nameko.messaging import QueueConsumer

log = logging.getLogger(__name__)


def _tolerate_dead_connection(settle):
    def settle_or_let_go(self, message):
        try:
            settle(self, message)
        except OSError as error:
            log.warning("broker connection lost before %s (%s); the broker will redeliver",
                        settle.__name__, error)
    settle_or_let_go.__name__ = settle.__name__
    return settle_or_let_go


def apply() -> None:
    if not getattr(QueueConsumer.ack_message, "_newsreel_fixed", False):
        for name in ("ack_message", "requeue_message"):
            fixed = _tolerate_dead_connection(getattr(QueueConsumer, name))
            fixed._newsreel_fixed = True
            setattr(QueueConsumer, name, fixed)
