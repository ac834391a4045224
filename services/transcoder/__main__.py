"""`python -m services.transcoder [all|api|worker]`: run the transcoder service.

- `all` (the default): RPC, the ingest handler, the eviction timer and the job consumer in one
  process;
- `api`: RPC, ingest handler and timer only (MAX_WORKERS default 10);
- `worker`: the job consumer only (MAX_WORKERS default 1: one job at a time per process).
METRICS_PORT defaults to 9104 (give the second process of a split another one)."""

# isort: off
import services.shared  # noqa: F401 - first: it quiets eventlet's import-time warning
import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import sys  # noqa: E402

from services.shared.runner import run  # noqa: E402
from services.transcoder.entrypoint import (  # noqa: E402
    TranscoderApi,
    TranscoderService,
    TranscoderWorker,
)
# isort: on

MODES = {"all": (TranscoderService, "1"), "api": (TranscoderApi, "10"),
         "worker": (TranscoderWorker, "1")}

mode = sys.argv[1] if len(sys.argv) > 1 else "all"
if mode not in MODES:
    sys.exit(f"usage: python -m services.transcoder [{'|'.join(MODES)}]")
service_cls, max_workers = MODES[mode]
if not os.environ.get("MAX_WORKERS"):
    os.environ["MAX_WORKERS"] = max_workers
run(service_cls, default_metrics_port=9104)
