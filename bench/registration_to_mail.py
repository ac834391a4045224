"""Registration → verification mail latency at a steady rate, beside raw pika.

    .venv/bin/python -m bench.registration_to_mail [--rate 4] [--count 80] [--backend sqlite]

Ours: from the moment the client sends `POST /api/v1/accounts` to the moment the SMTP server
(aiosmtpd, on this machine) holds the mail: the gateway, an RPC, argon2id, a commit with the
outbox, the relay's confirmed publish, the mailer's inbox check, rendering, SMTP.
Baseline: one persistent message published with confirms by raw pika and consumed by raw pika
at the same rate (the broker's share of our path, done twice in ours: RPC and event)."""

from __future__ import annotations

import argparse
import tempfile
import threading
import time

import pika

from bench.load import percentile, summary
from gateway.terms import TERMS_VERSION
from tests.support.rabbit import TestVhost
from tests.support.smtp import SmtpCapture
from tests.support.system import NewsreelSystem


def steady(count: int, rate: float, action) -> None:
    started = time.perf_counter()
    for n in range(count):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        action(n)


def ours(args, tmp) -> tuple[list[float], list[float]]:
    """Returns (request → mail, 202 answer → mail) per registration."""
    sent_at: dict[str, float] = {}
    answered_at: dict[str, float] = {}
    with SmtpCapture() as smtp, NewsreelSystem(
            backend=args.backend, tmp_path=tmp, smtp=smtp,
            env={"AUTH_RATE_LIMITS": "register_ip=100000/60"}) as system:
        system.start()

        def post(address):
            response = system.api("POST", "/api/v1/accounts", json={
                "email": address, "password": "Tr4in-Station-Bl00m", "full_name": "Bench",
                "organisation": "Bench", "language": "en", "terms_version": TERMS_VERSION})
            answered_at[address] = time.time()
            assert response.status_code == 202, response.text

        def register(n):
            address = f"bench{n:04d}@example.org"
            sent_at[address] = time.time()
            threading.Thread(target=post, args=(address,)).start()

        steady(args.count, args.rate, register)
        mails = smtp.wait_for(count=args.count, timeout=120)
        arrived = {m.envelope_to[0]: m.received_at for m in mails}
        return ([arrived[a] - sent_at[a] for a in arrived],
                [arrived[a] - answered_at[a] for a in arrived])


def raw_pika(args) -> list[float]:
    with TestVhost() as vhost:
        received: dict[str, float] = {}
        done = threading.Event()
        params = pika.URLParameters(vhost.amqp_uri)
        consumer_connection = pika.BlockingConnection(params)
        consumer = consumer_connection.channel()
        consumer.queue_declare("bench", durable=True)

        def on_message(channel, method, properties, body):
            received[body.decode()] = time.time()
            channel.basic_ack(method.delivery_tag)
            if len(received) == args.count:
                channel.stop_consuming()
                done.set()

        consumer.basic_consume("bench", on_message)
        thread = threading.Thread(target=consumer.start_consuming)
        thread.start()
        publisher_connection = pika.BlockingConnection(params)
        publisher = publisher_connection.channel()
        publisher.confirm_delivery()
        sent: dict[str, float] = {}

        def publish(n):
            sent[str(n)] = time.time()
            publisher.basic_publish("", "bench", str(n).encode(),
                                    pika.BasicProperties(delivery_mode=2))

        steady(args.count, args.rate, publish)
        done.wait(60)
        thread.join(10)
        publisher_connection.close()
        return [received[key] - sent[key] for key in sent]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=4.0, help="registrations per second")
    parser.add_argument("--count", type=int, default=80)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    baseline = raw_pika(args)
    with tempfile.TemporaryDirectory() as tmp:
        measured, after_answer = ours(args, tmp)
    print(f"\n{args.count} at {args.rate}/s, database {args.backend}")
    print(f"raw pika publish→consume          {summary(baseline)}")
    print(f"registration request → mail       {summary(measured)}")
    print(f"  of which 202 answer → mail      {summary(after_answer)}")
    for p in (50, 99):
        print(f"ratio to raw pika p{p}: request→mail "
              f"{percentile(measured, p) / percentile(baseline, p):.1f}x, "
              f"202→mail {percentile(after_answer, p) / percentile(baseline, p):.1f}x")


if __name__ == "__main__":
    main()
