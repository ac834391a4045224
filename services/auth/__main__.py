"""`python -m services.auth`: run the auth service."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

from services.auth.entrypoint import AuthService  # noqa: E402
from services.shared.runner import run  # noqa: E402

run(AuthService, default_metrics_port=9101)
