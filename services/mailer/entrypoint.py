"""The nameko edge of the mailer: one reliable handler per event that causes a mail."""

import logging
from urllib.parse import urlsplit

from nameko.extensions import DependencyProvider
from prometheus_client import Counter

from services.shared import unsubscribe
from services.shared.cloudevents import event_type_of
from services.shared.config import database_url, env, var_dir
from services.shared.consumer import Delivery, Later, reliable_handler
from services.shared.db import Database
from services.shared.metrics import EVENTS_CONSUMED
from services.shared.observed import Observed
from services.shared.outbox import OutboxRelay
from services.shared.sealed import Sealer

from .models import outbox
from .service import Mailer, MailInProgress, Outcome
from .transport import transport_from_env

log = logging.getLogger(__name__)

MAILS = Counter("newsreel_mails_total", "Mails handed to the SMTP server (sent), refused for "
                "good (failed) or not sent because the code they carry expired first "
                "(expired), by kind.", ["kind", "outcome"])


def _mailer_database_url() -> str:
    return database_url("mailer")


class MailerParts(DependencyProvider):
    """What Mailer needs besides a session, built once per process from the environment (the
    one wiring place)."""

    def setup(self):
        from_addr = env("MAIL_FROM", "Newsreel <no-reply@newsreel.localhost>")
        self.parts = {
            "transport": transport_from_env(
                env("SMTP_URL"), env("MAIL_OUTBOX_DIR", str(var_dir() / "mail-outbox"))),
            "sealer": Sealer.from_env(),
            "from_addr": from_addr,
            "message_domain": from_addr.rsplit("@", 1)[-1].strip(" >") or "newsreel.localhost",
            "portal_url": env("PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
            # its one signing key ring: unsubscribe links (it holds no other purpose's key)
            "unsubscribe_key": unsubscribe.keys_from_env(),
        }
        log.info("mail goes to %s", _describe(env("SMTP_URL")) or "the local outbox")

    def get_dependency(self, worker_ctx):
        return self.parts


def _describe(smtp_url: str | None) -> str | None:
    if not smtp_url:
        return None
    parts = urlsplit(smtp_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"  # never the password


class MailerService(Observed):
    name = "mailer"

    db = Database(_mailer_database_url)
    parts = MailerParts()
    delivery = Delivery()
    relay = OutboxRelay(outbox, _mailer_database_url)

    @property
    def mailer(self) -> Mailer:
        return Mailer(self.db, **self.parts)

    def _consumer(self, event) -> str:
        return f"{self.name}.{event_type_of(event)}"

    def _counted(self, event, outcome: str) -> str:
        EVENTS_CONSUMED.labels(self.name, event_type_of(event), outcome).inc()
        return outcome

    def _deliver(self, mailer: Mailer, event, consumer: str, request) -> str:
        try:
            outcome = mailer.deliver(event, consumer, request)
        except MailInProgress as busy:  # not a failure: the message comes back, attempt kept
            raise Later(busy.seconds_left, str(busy)) from None
        if outcome in (Outcome.SENT, Outcome.FAILED, Outcome.EXPIRED):
            MAILS.labels(request.kind, outcome).inc()
        return outcome

    def _send(self, event, request_for):
        mailer = self.mailer
        return self._counted(event, self._deliver(
            mailer, event, self._consumer(event), request_for(mailer, event["data"])))

    @reliable_handler("auth", "verification_code.issued.v1")
    def on_verification_code_issued(self, event):
        return self._send(event, Mailer.verification_code_mail)

    @reliable_handler("auth", "account.registration_attempted.v1")
    def on_registration_attempted(self, event):
        return self._send(event, Mailer.registration_attempted_mail)

    @reliable_handler("auth", "password.changed.v1")
    def on_password_changed(self, event):
        return self._send(event, Mailer.password_changed_mail)

    @reliable_handler("auth", "verification_code.locked.v1")
    def on_code_locked(self, event):
        return self._send(event, Mailer.code_locked_mail)

    @reliable_handler("auth", "newsletter.subscription_changed.v1")
    def on_subscription_changed(self, event):
        return self._counted(event, self.mailer.record_subscription(event, self._consumer(event)))

    @reliable_handler("catalog", "news.published.v1")
    def on_news_published(self, event):
        """One newsletter per subscriber. If a send fails for now, the whole event is retried
        and the subscribers already served are skipped (each is remembered on its own)."""
        mailer = self.mailer
        outcomes = [self._deliver(mailer, event, f"{self._consumer(event)}/{request.account_id}",
                                  request)
                    for request in mailer.newsletter_mails(event["data"])]
        return self._counted(event, Outcome.SENT if outcomes else Outcome.RECORDED)

