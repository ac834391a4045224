"""Handler queues declared before any service runs catch the events published meanwhile."""

import json

from services.shared import topology
from tests.support.rabbit import TestVhost

# The queue nameko itself declared for this handler in the integration tests.
CODE_QUEUE = "evt-auth-verification_code.issued.v1--mailer.on_verification_code_issued"


def test_declared_queues_are_nameko_s_and_hold_early_events():
    with TestVhost() as vhost:
        names = topology.declare(uri=vhost.amqp_uri)
        assert CODE_QUEUE in names
        assert "evt-catalog-video.ingested.v1--transcoder.on_video_ingested" in names
        assert topology.declare(uri=vhost.amqp_uri) == names      # repeatable

        vhost.publish("auth.events", "verification_code.issued.v1", json.dumps({"id": "e1"}))
        vhost.wait_for_queue(CODE_QUEUE, lambda q: q.messages == 1, timeout=10)
