"""`python -m services.mailer`: run the mailer service."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

from services.mailer.entrypoint import MailerService  # noqa: E402
from services.shared.runner import run  # noqa: E402

run(MailerService, default_metrics_port=9102)
