"""`python -m services.mailer`: run the mailer service."""

# isort: off
import services.shared  # noqa: F401 - first: it quiets eventlet's import-time warning
import eventlet

eventlet.monkey_patch()

from services.mailer.entrypoint import MailerService  # noqa: E402
from services.shared.runner import run  # noqa: E402
# isort: on

run(MailerService, default_metrics_port=9102)
