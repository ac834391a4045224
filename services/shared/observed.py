"""What every Newsreel nameko service declares alike, inherited rather than written four times:
the metrics of its entrypoints and the request or event id on its workers' log lines."""

from .logcontext import LogContext
from .metrics import EntrypointMetrics


class Observed:
    """A base for the service classes (nameko binds a copy of each provider per container)."""

    metrics = EntrypointMetrics()
    log_context = LogContext()
