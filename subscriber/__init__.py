"""A small subscriber to Newsreel's events, for the organisation's other teams (pika, any
RabbitMQ user with the read-only rights of contract/README.md).

    python -m subscriber --amqp-uri amqp://newsreel-readonly:…@rabbitmq/ \\
        --queue team.archive --events news.published.v1 rendition.ready.v1 --validate

or, from Python:

    Subscriber(uri, "team.archive", ["news.published.v1"], on_event=handle).run()
"""

from .consumer import InvalidEvent, Subscriber

__all__ = ["InvalidEvent", "Subscriber"]
