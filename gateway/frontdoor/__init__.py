"""The front door: nginx in front of the gateway, configured from the environment.

    python -m gateway.frontdoor render [PATH]   the config, on stdout or into PATH
    python -m gateway.frontdoor check           render, then `nginx -t` on it
    python -m gateway.frontdoor run             render into NGINX_PREFIX and run nginx in the
                                                foreground (SIGTERM stops it gracefully)

The one template is nginx.conf.j2 beside this file: ./scripts/run, the integration tests and
the Kubernetes pods all run it through `run`, so what is tested is what runs.

The gateway decides, nginx serves: for `/files/<token>` and `/media/<path>` the gateway checks
the link, the session, the account and the item's state, then answers with
`X-Accel-Redirect: <INTERNAL_PREFIX><folder>/<path>` and the headers that describe the file
(type, disposition, caching); nginx sends the file from an `internal` location of that folder.

Settings (environment):
    PORT                  where clients connect (8000)
    FRONTDOOR_HOST        the address to listen on (127.0.0.1; 0.0.0.0 in a pod)
    GATEWAY_PORT          the gateway's own port, on the loopback only (8001)
    FRONTDOOR_STATUS_HOST, FRONTDOOR_STATUS_PORT
                          nginx's counters (/stub_status) and the gateway's /metrics, for
                          operators (127.0.0.1:9106)
    MEDIA_ROOT            the media folder (services/shared/media_layout.py)
    NGINX_PREFIX          where the rendered config, pid and temporary files go (var/nginx)
    NGINX_BIN             the nginx binary (nginx on the PATH, else /usr/sbin/nginx)
    NGINX_WORKERS         worker processes (auto)
    NGINX_SHUTDOWN_SECONDS  how long a graceful stop waits for transfers in progress (10)
    TRUSTED_PROXIES       comma-separated networks of the proxies in front of nginx whose
                          X-Forwarded-For is believed (none)
    FRONTDOOR_ACCESS_LOG  comma-separated access log destinations (<NGINX_PREFIX>/access.log;
                          /dev/stdout in a pod)
    UPLOAD_CHUNK_MAX_BYTES  the largest tus PATCH body (64 MiB)
    FRONTDOOR_LOG_METRICS_PORT  mtail's /metrics: nginx's traffic by kind, counted from the
                          lines of the first log file (off when unset)
    FRONTDOOR_LOG_MAX_BYTES  a log file past this is rotated, one old copy kept (64 MiB)
    FRONTDOOR_NGINX_METRICS_PORT  prometheus-nginx-exporter's /metrics: connections, and the
                          ones writing (transfers in progress) (off when unset)
"""

import ipaddress
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.shared.config import env, env_int, var_dir
from services.shared.media_layout import SERVED_FOLDERS, UPLOAD_ID_PATTERN

from .. import errors, i18n
from ..config import DEFAULT_UPLOAD_CHUNK_MAX_BYTES
from ..observability import SANE_REQUEST_ID

TEMPLATE_DIR = Path(__file__).resolve().parent
TEMPLATE_NAME = "nginx.conf.j2"
# Where the gateway points X-Accel-Redirect; one internal location per served folder below it.
INTERNAL_PREFIX = "/_internal/media/"
# The header the gateway names the handed-over file's kind with (for nginx's log and metrics).
KIND_HEADER = "X-Newsreel-Kind"
# What the gateway names a handed-over file (files.KIND_OF_FOLDER, and previews).
HANDED_OVER_KINDS = ("rendition", "cut", "original", "preview")
API_BODY_MAX_BYTES = 1024 * 1024
TEMP_FOLDERS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass(frozen=True)
class MediaFolder:
    name: str
    path: str  # the folder's real path: a folder may be a link to another volume


@dataclass(frozen=True)
class FrontDoorSettings:
    port: int
    gateway_port: int
    media_root: Path
    prefix: Path
    host: str = "127.0.0.1"
    status_host: str = "127.0.0.1"
    status_port: int = 9106
    workers: str = "auto"
    shutdown_timeout: int = 10
    trusted_proxies: tuple[str, ...] = ()
    access_logs: tuple[str, ...] = ()
    upload_chunk_max: int = DEFAULT_UPLOAD_CHUNK_MAX_BYTES
    log_metrics_port: int | None = None  # mtail's /metrics
    nginx_metrics_port: int | None = None  # prometheus-nginx-exporter's /metrics
    log_max_bytes: int = 64 * 1024 * 1024  # a log file is rotated (one old copy) past this
    as_root: bool = field(default_factory=lambda: os.geteuid() == 0)

    @classmethod
    def from_env(cls) -> "FrontDoorSettings":
        prefix = Path(env("NGINX_PREFIX") or var_dir() / "nginx").absolute()
        media_root = Path(env("MEDIA_ROOT") or var_dir() / "media").absolute()
        logs = tuple(item.strip() for item in (env("FRONTDOOR_ACCESS_LOG") or "").split(",")
                     if item.strip()) or (str(prefix / "access.log"),)
        return cls(
            port=env_int("PORT", 8000), gateway_port=env_int("GATEWAY_PORT", 8001),
            media_root=media_root, prefix=prefix, host=env("FRONTDOOR_HOST", "127.0.0.1"),
            status_host=env("FRONTDOOR_STATUS_HOST", "127.0.0.1"),
            status_port=env_int("FRONTDOOR_STATUS_PORT", 9106),
            workers=env("NGINX_WORKERS", "auto"),
            shutdown_timeout=env_int("NGINX_SHUTDOWN_SECONDS", 10),
            trusted_proxies=parse_networks(env("TRUSTED_PROXIES", "")),
            access_logs=logs,
            upload_chunk_max=env_int("UPLOAD_CHUNK_MAX_BYTES", DEFAULT_UPLOAD_CHUNK_MAX_BYTES),
            log_metrics_port=_port("FRONTDOOR_LOG_METRICS_PORT"),
            log_max_bytes=env_int("FRONTDOOR_LOG_MAX_BYTES", 64 * 1024 * 1024),
            nginx_metrics_port=_port("FRONTDOOR_NGINX_METRICS_PORT"))


def _port(name: str) -> int | None:
    value = env(name)
    return int(value) if value else None


def parse_networks(text: str) -> tuple[str, ...]:
    """`10.0.0.0/8, 192.168.1.7` -> ('10.0.0.0/8', '192.168.1.7/32'); a typo stops the start
    instead of trusting the wrong clients."""
    networks = []
    for item in text.split(","):
        if item.strip():
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
    return tuple(networks)


def media_folders(media_root: Path) -> list[MediaFolder]:
    return [MediaFolder(name, os.path.realpath(media_root / name)) for name in SERVED_FOLDERS]


def _nginx_string(text: str) -> str:
    """`text` inside single quotes in nginx's config."""
    if "$" in text:
        raise ValueError(f"a $ would start a variable in nginx's config: {text!r}")
    return text.replace("\\", "\\\\").replace("'", "\\'")


def error_bodies() -> dict[str, dict[str, str]]:
    """The gateway's own JSON answers for the codes nginx may have to give by itself (the
    gateway down: service_unavailable; a request it cannot route: not_found), in each
    language, from the gateway's one error table."""
    # rooted where the gateway is, to find its translations/
    app = Flask("frontdoor", root_path=str(TEMPLATE_DIR.parent))
    i18n.init_app(app)
    bodies: dict[str, dict[str, str]] = {}
    for code in ("service_unavailable", "not_found", "range_not_satisfiable"):
        bodies[code] = {}
        for language in i18n.LANGUAGES:
            with app.test_request_context(f"/?lang={language}"):
                body = errors.error_response(code).get_json()
            bodies[code][language] = _nginx_string(json.dumps(body, ensure_ascii=False))
    return bodies


def render(settings: FrontDoorSettings) -> str:
    environment = Environment(loader=FileSystemLoader(TEMPLATE_DIR), undefined=StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                              autoescape=False)  # noqa: S701 (nginx config, not HTML)
    return environment.get_template(TEMPLATE_NAME).render(
        port=settings.port, host=settings.host, gateway_port=settings.gateway_port,
        status_host=settings.status_host, status_port=settings.status_port,
        prefix=str(settings.prefix), workers=settings.workers,
        shutdown_timeout=settings.shutdown_timeout,
        trusted_proxies=settings.trusted_proxies, access_logs=settings.access_logs,
        upload_chunk_max=settings.upload_chunk_max, api_body_max=API_BODY_MAX_BYTES,
        internal_prefix=INTERNAL_PREFIX, media_folders=media_folders(settings.media_root),
        as_root=settings.as_root, retry_after=errors.SERVICE_UNAVAILABLE_RETRY_AFTER,
        bodies=error_bodies(), upload_id_pattern=UPLOAD_ID_PATTERN,
        request_id_pattern=SANE_REQUEST_ID.pattern, kinds=HANDED_OVER_KINDS,
        kind_variable="upstream_http_" + KIND_HEADER.lower().replace("-", "_"))


def prepare(settings: FrontDoorSettings) -> Path:
    """Renders the config into the prefix, with the folders nginx writes to."""
    for folder in TEMP_FOLDERS:
        (settings.prefix / "tmp" / folder).mkdir(parents=True, exist_ok=True)
    for name in SERVED_FOLDERS:
        (settings.media_root / name).mkdir(parents=True, exist_ok=True)
    config = settings.prefix / "nginx.conf"
    partial = config.with_name(".nginx.conf.tmp")
    partial.write_text(render(settings))
    partial.replace(config)
    return config


MTAIL_PROGRAMS = TEMPLATE_DIR / "mtail"


def log_files(settings: FrontDoorSettings) -> list[Path]:
    """The access log destinations that are files (not /dev/stdout): rotated by `run`, and
    the first one is what mtail counts."""
    return [Path(destination) for destination in settings.access_logs
            if not destination.startswith(("/dev/", "syslog:")) and destination != "off"]


def mtail_command(settings: FrontDoorSettings) -> list[str]:
    """mtail counting nginx's log lines (MTAIL_PROGRAMS) into Prometheus metrics: it follows
    the file through its rotations, and reads every line (sockets dropped lines in bursts)."""
    [counted, *_] = log_files(settings) or [None]
    if counted is None:
        raise SystemExit("mtail needs a log file: add one to FRONTDOOR_ACCESS_LOG.")
    return [_binary("mtail", "MTAIL_BIN"), "--progs", str(MTAIL_PROGRAMS),
            "--logs", str(counted),
            "--address", settings.status_host, "--port", str(settings.log_metrics_port),
            "--logtostderr", "--emit_prog_label=false"]


def exporter_command(settings: FrontDoorSettings) -> list[str]:
    """Debian's prometheus-nginx-exporter, reading nginx's stub_status (connections, and the
    ones writing: the transfers in progress)."""
    return [_binary("prometheus-nginx-exporter", "NGINX_EXPORTER_BIN"),
            f"-nginx.scrape-uri=http://127.0.0.1:{settings.status_port}/stub_status",
            f"-web.listen-address={settings.status_host}:{settings.nginx_metrics_port}",
            "-nginx.retries=30", "-nginx.retry-interval=1s"]


def _binary(name: str, variable: str) -> str:
    found = env(variable) or shutil.which(name) or next(
        (path for path in (f"/usr/bin/{name}", f"/usr/sbin/{name}")
         if os.access(path, os.X_OK)), None)
    if found is None:
        raise SystemExit(f"{name} is not installed: ./scripts/run installs it (apt-get install "
                         f"{name}), or set {variable} to its path.")
    return found


def nginx_command(settings: FrontDoorSettings, config: Path, *extra: str) -> list[str]:
    # -e: nginx would otherwise open its compiled-in error log (root's) before reading ours.
    return [_binary("nginx", "NGINX_BIN"), "-p", str(settings.prefix), "-c", str(config),
            "-e", "stderr", *extra]
