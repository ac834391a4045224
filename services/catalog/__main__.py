"""`python -m services.catalog`: run the catalog service."""

# isort: off
import services.shared  # noqa: F401 - first: it quiets eventlet's import-time warning
import eventlet

eventlet.monkey_patch()

from services.catalog.entrypoint import CatalogService  # noqa: E402
from services.shared.runner import run  # noqa: E402
# isort: on

run(CatalogService, default_metrics_port=9103)
