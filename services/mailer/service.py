"""What the mailer does with an event: decide the mail(s), send each once, say so.

A handled event's id is remembered in the same transaction that records the mail as sent, so
a redelivered event is dropped instead of mailed twice. The one window left, a crash after the
SMTP server accepted the mail and before that commit, re-sends it with the same Message-ID,
which mail clients fold into one.

A mail that carries a code is not sent once the code has expired (the mailer, its database or
the SMTP relay was away longer than the code lives): the user asks for a new one. That is
recorded (status `expired`), logged and counted, never mailed."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.shared import unsubscribe
from services.shared.db import transaction
from services.shared.sealed import Sealer

from .models import Mail, Subscriber, inbox, outbox
from .rendering import render
from .transport import MailDeliveryError, PermanentMailError, build_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailRequest:
    """A mail to send to one account because of an event."""
    kind: str
    account_id: str
    to_addr: str
    to_name: str
    language: str
    context: dict
    headers: dict = field(default_factory=dict)
    # when what the mail carries (a code) stops working: not sent after that
    expires_at: datetime | None = None


# How long a worker owns a mail it is sending: longer than an SMTP exchange with its timeouts.
SEND_LEASE = timedelta(seconds=90)


class MailInProgress(Exception):
    """Another worker is sending this very mail right now: come back when its lease ends."""

    def __init__(self, message: str, seconds_left: float):
        super().__init__(message)
        self.seconds_left = seconds_left


class Outcome:
    SENT = "sent"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    RECORDED = "recorded"
    STALE = "stale"
    EXPIRED = "expired"


class Mailer:
    def __init__(self, session: Session, transport, sealer: Sealer,
                 from_addr: str, message_domain: str, portal_url: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 unsubscribe_key: str | None = None):
        self.session = session
        self.transport = transport
        self.sealer = sealer
        self.from_addr = from_addr
        self.message_domain = message_domain
        self.portal_url = portal_url
        self.clock = clock
        self.unsubscribe_key = unsubscribe_key

    # -- events -> mail requests --------------------------------------------------------------

    def verification_code_mail(self, data: dict) -> MailRequest:
        secret = self.sealer.open(data["sealed"])
        expires_at = _parse_time(data["expires_at"])
        return MailRequest("verification_code", data["account_id"], secret["email"],
                           secret["full_name"], data["language"], {
                               "full_name": secret["full_name"], "code": secret["code"],
                               "purpose": data["purpose"],
                               "expires_at": expires_at,
                               "valid_minutes": data.get("valid_minutes", 30),
                           }, expires_at=expires_at)

    def registration_attempted_mail(self, data: dict) -> MailRequest:
        return MailRequest("registration_attempted", data["account_id"], data["email"],
                           data["full_name"], data["language"],
                           {"full_name": data["full_name"], "portal_url": self.portal_url})

    def password_changed_mail(self, data: dict) -> MailRequest:
        return MailRequest("password_changed", data["account_id"], data["email"],
                           data["full_name"], data["language"], {
                               "full_name": data["full_name"],
                               "changed_at": _parse_time(data["changed_at"]),
                               # what the mail says of the sessions: `reset` ended them all,
                               # `change` (logged in) all but the one that made it
                               "reason": data["reason"],
                               "portal_url": self.portal_url,
                           })

    def code_locked_mail(self, data: dict) -> MailRequest:
        """Code entry for the account was locked after wrong codes: the owner is told, with no
        code and no link (whoever typed the wrong codes caused this mail). Sent even once the
        lock has ended: someone tried, and the owner should know."""
        return MailRequest("code_locked", data["account_id"], data["email"],
                           data["full_name"], data["language"], {
                               "full_name": data["full_name"], "purpose": data["purpose"],
                               "locked_until": _parse_time(data["locked_until"]),
                           })

    # -- the newsletter ------------------------------------------------------------------------

    def record_subscription(self, event: dict, consumer: str) -> str:
        """Keeps the subscriber list in step with auth; an older change never overwrites a
        newer one (a retried event may arrive late)."""
        data = event["data"]
        changed_at = _parse_time(data["changed_at"])
        with transaction(self.session) as session:
            if inbox.seen(session, consumer, event["id"]):
                return Outcome.DUPLICATE
            inbox.remember(session, consumer, event["id"])
            subscriber = session.get(Subscriber, data["account_id"])
            if subscriber is None:
                subscriber = Subscriber(account_id=data["account_id"], changed_at=changed_at)
                session.add(subscriber)
            elif subscriber.changed_at > changed_at:
                return Outcome.STALE
            subscriber.email, subscriber.full_name = data["email"], data["full_name"]
            subscriber.language, subscriber.subscribed = data["language"], data["subscribed"]
            subscriber.changed_at = changed_at
        return Outcome.RECORDED

    def newsletter_mails(self, data: dict) -> list[MailRequest]:
        """One mail per subscriber, in the subscriber's language when the item has it."""
        by_language = {t["language"]: t for t in data["translations"]}
        with transaction(self.session) as session:
            subscribers = session.execute(
                select(Subscriber).where(Subscriber.subscribed.is_(True))
                .order_by(Subscriber.account_id)).scalars().all()
        published_at = _parse_time(data["published_at"])
        mails = []
        for subscriber in subscribers:
            story = by_language.get(subscriber.language) or by_language[data["languages"][0]]
            unsubscribe_url = (f"{self.portal_url}/newsletter/unsubscribe?token="
                               f"{unsubscribe.sign(self.unsubscribe_key, subscriber.account_id)}")
            mails.append(MailRequest(
                "newsletter", subscriber.account_id, subscriber.email, subscriber.full_name,
                story["language"], {
                    "full_name": subscriber.full_name, "title": story["title"],
                    "summary": story["summary"], "url": story["url"],
                    "published_at": published_at, "unsubscribe_url": unsubscribe_url},
                headers={  # RFC 2369 and RFC 8058: the mail client's own one-click button
                    "List-Unsubscribe": f"<{unsubscribe_url}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "List-Id": f"Newsreel news <news.{self.message_domain}>",
                }))
        return mails

    # -- delivery -----------------------------------------------------------------------------

    def deliver(self, event: dict, consumer: str, request: MailRequest) -> str:
        """Sends the mail for `event` unless `consumer` already did, or what it carries has
        expired. A transient SMTP failure raises, however often it happens (the handler waits
        it out with a capped back-off: the relay will be back); a permanent one is recorded
        as failed at once."""
        event_id = event["id"]
        now = self.clock()
        message_id = f"<{event_id}.{request.kind}.{request.account_id}@{self.message_domain}>"
        with transaction(self.session) as session:
            if inbox.seen(session, consumer, event_id):
                return Outcome.DUPLICATE
            mail = session.execute(select(Mail).where(
                Mail.event_id == event_id, Mail.kind == request.kind,
                Mail.account_id == request.account_id).with_for_update()).scalar_one_or_none()
            if mail is None:
                mail = Mail(event_id=event_id, kind=request.kind, account_id=request.account_id,
                            recipient=request.to_addr, language=request.language,
                            message_id=message_id, status="sending", attempts=0,
                            created_at=now)
                session.add(mail)
            elif mail.status == "sending" and mail.lease_until and mail.lease_until > now:
                # The broker gave the event to a second worker (the first one's connection
                # dropped before its ack) while the first is still talking to the SMTP server.
                # Back off; by the retry the first has remembered the event, or died and let
                # its lease lapse.
                raise MailInProgress(f"mail {mail.id} is being sent by another worker",
                                     (mail.lease_until - now).total_seconds())
            if request.expires_at is not None and now >= request.expires_at:
                inbox.remember(session, consumer, event_id)
                mail.status, mail.lease_until = Outcome.EXPIRED, None
                mail.last_error = f"expired at {request.expires_at.isoformat()}"
                log.warning("mail %s for event %s not sent: what it carries expired at %s "
                            "(%s late); the user asks again", request.kind, event_id,
                            request.expires_at.isoformat(), now - request.expires_at)
                return Outcome.EXPIRED
            mail.attempts += 1
            mail.lease_until = now + SEND_LEASE
            session.flush()
            mail_id = mail.id

        rendered = render(request.kind, request.language, request.context)
        message = build_message(rendered, request.to_addr, request.to_name, self.from_addr,
                                message_id, request.headers)
        try:
            self.transport.send(message)
        except MailDeliveryError as error:
            if isinstance(error, PermanentMailError):
                self._record_failure(event, consumer, mail_id, request, error)
                return Outcome.FAILED
            self._record_error(mail_id, error)
            raise

        with transaction(self.session) as session:
            inbox.remember(session, consumer, event_id)
            mail = session.get(Mail, mail_id)
            mail.status, mail.sent_at, mail.last_error = "sent", self.clock(), None
            outbox.add(session, "mail.sent.v1", {
                "mail_id": mail_id, "kind": request.kind, "account_id": request.account_id,
                "language": request.language, "message_id": message_id,
                "caused_by": event_id, "attempts": mail.attempts,
                "sent_at": mail.sent_at.isoformat().replace("+00:00", "Z"),
            }, subject=request.account_id)
        return Outcome.SENT

    def _record_error(self, mail_id: int, error: Exception) -> None:
        with transaction(self.session) as session:
            mail = session.get(Mail, mail_id)
            mail.last_error, mail.lease_until = str(error)[:2000], None

    def _record_failure(self, event, consumer, mail_id, request, error) -> None:
        with transaction(self.session) as session:
            inbox.remember(session, consumer, event["id"])
            mail = session.get(Mail, mail_id)
            mail.status, mail.last_error = "failed", str(error)[:2000]
            outbox.add(session, "mail.failed.v1", {
                "mail_id": mail_id, "kind": request.kind, "account_id": request.account_id,
                "language": request.language, "caused_by": event["id"],
                "attempts": mail.attempts, "error": type(error).__name__,
                "permanent": isinstance(error, PermanentMailError),
                "failed_at": self.clock().isoformat().replace("+00:00", "Z"),
            }, subject=request.account_id)


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
