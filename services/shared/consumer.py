"""Event handlers that never drop a message.

nameko's own `event_handler` acks a message whose handler raised (or requeues it at once, in a
hot loop). `reliable_handler` instead sends a failed message to a delay queue for its attempt
(`<queue>.retry.<ms>`, whose TTL dead-letters it back to the handler's queue), and after the last
delay parks it in `<queue>.dlq`, where an operator can inspect and replay it
(`python -m services.shared.dlq`). The ack comes only after the retry or the parking was
confirmed by the broker, so a crash in between redelivers the message instead of losing it.

A handler that cannot act on a message *yet* (another worker holds the work it names) raises
`Later`: the message goes through the delay queue nearest the wait it asks for, and that does
not count as an attempt.
"""

import logging
import traceback
from functools import partial

from kombu import Queue
from nameko.amqp.publish import Publisher
from nameko.events import EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer

from . import metrics
from .config import env, env_int
from .failures import is_transient
from .outbox import PUBLISH_TIMEOUT

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-newsreel-attempt"
# how many times in a row the message met a transient failure (its back-off step)
TRANSIENT_HEADER = "x-newsreel-transient"
ERROR_HEADER = "x-newsreel-error"
DEFAULT_RETRY_DELAYS_MS = (1_000, 5_000, 30_000, 120_000, 600_000)
DEFAULT_TRANSIENT_MAX_DELAY_MS = 60_000
# what a CloudEvents 1.0 envelope must have (the spec's required attributes) for a handler
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")


class Later(Exception):
    """Not now: hand the message back to come again in about `seconds` (not an attempt)."""

    def __init__(self, seconds: float, reason: str = ""):
        super().__init__(reason or f"later, in {seconds:.0f} s")
        self.seconds = seconds


def retry_delays_ms() -> tuple[int, ...]:
    """`RETRY_DELAYS_MS=200,400` shortens the schedule (tests, local runs)."""
    configured = env("RETRY_DELAYS_MS")
    if configured is None:
        return DEFAULT_RETRY_DELAYS_MS
    return tuple(int(part) for part in configured.split(",") if part.strip())


def transient_delays_ms(delays: tuple[int, ...]) -> tuple[int, ...]:
    """The back-off for a transient failure: the ladder's steps below the cap
    (`RETRY_TRANSIENT_MAX_DELAY_MS`, default 60 s), then the cap for ever. An outage is
    noticed within the cap once it ends, whatever its length."""
    cap = min(env_int("RETRY_TRANSIENT_MAX_DELAY_MS", DEFAULT_TRANSIENT_MAX_DELAY_MS),
              max(delays))
    return (*(ms for ms in delays if ms < cap), cap)


def not_an_event(body) -> str | None:
    """Why `body` (decoded JSON) is not an event a handler can take, or None."""
    if not isinstance(body, dict):
        return f"not a CloudEvent: a JSON {type(body).__name__}, not an object"
    missing = [name for name in REQUIRED_ATTRIBUTES if not isinstance(body.get(name), str)
               or not body[name]]
    if missing:
        return f"not a CloudEvent: no {', '.join(missing)}"
    return None


def retry_queue(queue_name: str, delay_ms: int) -> Queue:
    return Queue(f"{queue_name}.retry.{delay_ms}", durable=True, queue_arguments={
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue_name,
    })


def dead_letter_queue(queue_name: str) -> Queue:
    return Queue(f"{queue_name}.dlq", durable=True)


class _ParkingQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a message kombu cannot decode (not JSON, a content
    type not accepted) is handed to its handler's `park_undecodable` instead of raising in the
    consumer's thread, which killed the service (and the broker gave the message to the next
    one, for ever)."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            if isinstance(provider, ReliableEventHandler):
                consumer.on_decode_error = partial(provider.park_undecodable)
        return consumers


class ReliableEventHandler(EventHandler):
    queue_consumer = _ParkingQueueConsumer()

    def __init__(self, source_service, event_type, **kwargs):
        expected = kwargs.pop("expected_exceptions", ())
        expected = expected if isinstance(expected, tuple) else (expected,)
        super().__init__(source_service, event_type, reliable_delivery=True,
                         requeue_on_error=False, expected_exceptions=(*expected, Later),
                         **kwargs)

    def setup(self):
        super().setup()
        self.delays = retry_delays_ms()
        self.transient_delays = transient_delays_ms(self.delays)
        self.retry_queues = [retry_queue(self.queue.name, ms) for ms in self.delays]
        self.transient_queues = [retry_queue(self.queue.name, ms)
                                 for ms in self.transient_delays]
        self.dlq = dead_letter_queue(self.queue.name)
        declared = {q.name: q for q in (*self.retry_queues, *self.transient_queues, self.dlq)}
        self.publisher = Publisher(self.container.config["AMQP_URI"], use_confirms=True,
                                   ssl=self.container.config.get("AMQP_SSL"),
                                   declare=list(declared.values()))

    def handle_message(self, body, message):
        reason = not_an_event(body)
        if reason is not None:
            self.park_at_once(message, reason)
            return
        attempt = int(message.headers.get(ATTEMPT_HEADER, 1))
        context_data = self.unpack_message_headers(message)
        context_data["delivery_attempt"] = attempt
        context_data["delivery_is_last"] = attempt > len(self.delays)
        context_data["delivery_redelivered"] = bool(message.delivery_info.get("redelivered"))
        try:
            self.container.spawn_worker(
                self, (body,), {}, context_data=context_data,
                handle_result=lambda ctx, result=None, exc_info=None: self._handle_result(
                    message, attempt, ctx, result, exc_info))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def park_undecodable(self, message, error):
        """kombu's decode-error callback: the body is not JSON, or of a content type not
        accepted."""
        self.park_at_once(message, f"not JSON, or not an accepted content type "
                                   f"({message.content_type}): {error}")

    def park_at_once(self, message, reason: str):
        """Parks a message no retry can help, with `reason`, and acks it; the consumer goes
        on with the next. If the broker does not confirm the parking, the message goes back
        to its queue (never lost)."""
        try:
            self._republish(message, self.dlq.name, int(message.headers.get(ATTEMPT_HEADER, 1)),
                            reason=reason)
        except Exception:
            log.exception("could not park a malformed message; it goes back to its queue")
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)
        metrics.MESSAGES_DEAD_LETTERED.labels(self.container.service_name, self.queue.name).inc()
        metrics.MESSAGES_MALFORMED.labels(self.container.service_name, self.queue.name).inc()
        log.error("handler %s: message %s parked in %s at once: %s", self.method_name,
                  message.properties.get("message_id"), self.dlq.name, reason)

    def _handle_result(self, message, attempt, worker_ctx, result, exc_info):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return result, exc_info
        try:
            if isinstance(exc_info[1], Later):
                delay = self._nearest_delay(exc_info[1].seconds)
                self._republish(message, self.retry_queues[delay].name, attempt, exc_info)
                metrics.MESSAGES_DEFERRED.labels(
                    self.container.service_name, self.queue.name).inc()
                log.info("handler %s: %s; the message comes back in %s ms", self.method_name,
                         exc_info[1], self.delays[delay])
            elif is_transient(exc_info[1]):
                # an outage: wait it out, however long; the attempts are for real failures
                step = int(message.headers.get(TRANSIENT_HEADER, 0))
                queue = self.transient_queues[min(step, len(self.transient_queues) - 1)]
                self._republish(message, queue.name, attempt, exc_info,
                                transient_step=step + 1)
                metrics.MESSAGES_RETRIED.labels(self.container.service_name, self.queue.name,
                                                "transient").inc()
                log.warning("handler %s: a dependency is unavailable (%s); the message "
                            "comes back in %s ms (attempt %s kept)", self.method_name,
                            _one_line(exc_info), queue.queue_arguments["x-message-ttl"],
                            attempt)
            elif attempt <= len(self.delays):
                self._republish(message, self.retry_queues[attempt - 1].name, attempt + 1, exc_info)
                metrics.MESSAGES_RETRIED.labels(self.container.service_name, self.queue.name,
                                                "error").inc()
                log.warning("handler %s failed (attempt %s), retrying in %s ms",
                            self.method_name, attempt, self.delays[attempt - 1])
            else:
                self._republish(message, self.dlq.name, attempt, exc_info)
                metrics.MESSAGES_DEAD_LETTERED.labels(
                    self.container.service_name, self.queue.name).inc()
                log.error("handler %s failed %s times; message parked in %s",
                          self.method_name, attempt, self.dlq.name)
        except Exception:
            log.exception("could not schedule a retry; the message goes back to its queue")
            self.queue_consumer.requeue_message(message)
        else:
            self.queue_consumer.ack_message(message)
        return result, exc_info

    def _nearest_delay(self, seconds: float) -> int:
        """The index of the shortest delay queue that waits at least `seconds` (else the
        longest)."""
        for index, delay_ms in enumerate(self.delays):
            if delay_ms >= seconds * 1000:
                return index
        return len(self.delays) - 1

    def _republish(self, message, queue_name, attempt, exc_info=None, *, reason=None,
                   transient_step=0):
        headers = dict(message.headers or {})
        headers[ATTEMPT_HEADER] = attempt
        headers["x-newsreel-origin-queue"] = self.queue.name
        headers[ERROR_HEADER] = (reason or _one_line(exc_info))[:2000]
        if transient_step:
            headers[TRANSIENT_HEADER] = transient_step
        else:   # a real failure or a deferral ends the run of transient ones
            headers.pop(TRANSIENT_HEADER, None)
        self.publisher.publish(
            message.body, exchange="", routing_key=queue_name, headers=headers,
            content_type=message.content_type, content_encoding=message.content_encoding,
            message_id=message.properties.get("message_id"), delivery_mode=2,
            timeout=PUBLISH_TIMEOUT, confirm_timeout=PUBLISH_TIMEOUT)


reliable_handler = ReliableEventHandler.decorator


def _one_line(exc_info) -> str:
    return "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()


class Delivery(DependencyProvider):
    """Tells a handler which attempt this is, so it can give up gracefully on the last one."""

    def get_dependency(self, worker_ctx):
        return DeliveryInfo(worker_ctx.context_data.get("delivery_attempt", 1),
                            worker_ctx.context_data.get("delivery_is_last", False),
                            worker_ctx.context_data.get("delivery_redelivered", False))


class DeliveryInfo:
    """`redelivered`: the broker delivered this message before to a consumer that went away
    without acking it (it died, or lost its connection)."""

    def __init__(self, attempt: int, is_last: bool, redelivered: bool = False):
        self.attempt = attempt
        self.is_last = is_last
        self.redelivered = redelivered
