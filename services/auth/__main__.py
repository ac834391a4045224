"""`python -m services.auth`: run the auth service."""

# isort: off
import services.shared  # noqa: F401 - first: it quiets eventlet's import-time warning
import eventlet

eventlet.monkey_patch()

from services.auth.entrypoint import AuthService  # noqa: E402
from services.shared.runner import run  # noqa: E402
# isort: on

run(AuthService, default_metrics_port=9101)
