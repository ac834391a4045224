"""The session-wide check that the real servers the integration tests need are there."""

from __future__ import annotations

import logging

import pika
import psycopg2
import requests

from . import databases, rabbit

HOW_TO = ("Run ./scripts/test, which starts RabbitMQ (with the management plugin) and "
          "PostgreSQL (with the test role) before running pytest.")


def problems() -> list[str]:
    """What is missing, in words; empty when RabbitMQ (AMQP and management API) and PostgreSQL
    (a role that may create databases) answer."""
    found = []
    pika_log = logging.getLogger("pika")
    level = pika_log.level
    pika_log.setLevel(logging.CRITICAL)   # the one line below says it better than pika's ten
    try:
        params = pika.URLParameters(rabbit.AMQP_URL)
        params.socket_timeout = 5
        params.connection_attempts = 1
        pika.BlockingConnection(params).close()
    except Exception as exc:
        found.append(f"RabbitMQ does not answer AMQP at {rabbit.AMQP_URL}: {exc!r}")
    finally:
        pika_log.setLevel(level)
    try:
        response = requests.get(f"{rabbit.MANAGEMENT_URL}/api/overview",
                                auth=rabbit.MANAGEMENT_AUTH, timeout=5)
        if response.status_code != 200:
            found.append(f"RabbitMQ management API at {rabbit.MANAGEMENT_URL} answered "
                         f"{response.status_code} for user {rabbit.MANAGEMENT_AUTH[0]}")
    except requests.RequestException as exc:
        found.append(f"RabbitMQ management API does not answer at {rabbit.MANAGEMENT_URL} "
                     f"(is rabbitmq_management enabled?): {exc!r}")
    url = databases.postgres_admin_url()
    try:
        connection = psycopg2.connect(databases._libpq(url), connect_timeout=5)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles "
                               "WHERE rolname = current_user")
                row = cursor.fetchone()
        finally:
            connection.close()
        if not (row and row[0]):
            found.append(f"the PostgreSQL role of TEST_POSTGRES_URL ({url}) may not create "
                         "databases (needs CREATEDB)")
    except psycopg2.Error as exc:
        found.append(f"PostgreSQL does not answer at TEST_POSTGRES_URL={url}: "
                     f"{str(exc).strip()}")
    return found


def report(found: list[str]) -> str:
    return ("The integration tests need real servers, and some are missing:\n  - "
            + "\n  - ".join(found) + f"\n{HOW_TO}")
