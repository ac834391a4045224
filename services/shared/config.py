"""Configuration comes from the environment only (12-factor). Defaults are the one-machine setup."""

import os
import ssl
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_float(name: str, default: float) -> float:
    return float(env(name, str(default)))


def var_dir() -> Path:
    """Where local state lives on one machine (databases, media, mail outbox)."""
    path = Path(env("NEWSREEL_VAR", str(REPO_ROOT / "var")))
    path.mkdir(parents=True, exist_ok=True)
    return path


# kombu's own separator between the brokers of a failover list (nameko hands AMQP_URI to kombu)
AMQP_ADDRESS_SEPARATOR = ";"


def amqp_uri() -> str:
    """AMQP_URI as every kombu/nameko client takes it: one broker, or several separated by ';'
    (see `amqp_addresses`)."""
    return AMQP_ADDRESS_SEPARATOR.join(amqp_addresses())


def amqp_addresses(uri: str | None = None) -> list[str]:
    """The brokers AMQP_URI (or `uri`) names, in order. One in Kubernetes (the cluster's
    Service); every node of a cluster where there is no such front (local, tests): kombu tries
    them in turn (round-robin) on the first connection and on every reconnection, so a client
    whose node stops goes on with another. Each is a whole URI with its user, password and
    vhost (kombu takes nothing from the first); all amqp:// or all amqps://."""
    raw = uri if uri is not None else env("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    addresses = [part.strip() for part in raw.split(AMQP_ADDRESS_SEPARATOR) if part.strip()]
    if not addresses:
        raise RuntimeError("AMQP_URI names no broker")
    schemes = {urlsplit(address).scheme for address in addresses}
    if not schemes <= {"amqp", "amqps"} or any("://" not in a for a in addresses):
        raise RuntimeError("every address of AMQP_URI must be a whole amqp:// or amqps:// URI")
    if len(schemes) > 1:
        raise RuntimeError("AMQP_URI mixes amqp:// and amqps://: some brokers would be "
                           "reached without TLS")
    return addresses


def redact_amqp_uri(uri: str) -> str:
    """`uri` (one address or a list) with every password masked, for logs."""
    redacted = []
    for address in amqp_addresses(uri):
        parts = urlsplit(address)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            parts = parts._replace(netloc=f"{parts.username}:********@{host}")
        redacted.append(parts.geturl())
    return AMQP_ADDRESS_SEPARATOR.join(redacted)


def amqp_ssl(uri: str | None = None) -> dict | None:
    """The TLS options of a connection to `uri` (AMQP_URI by default), in the form kombu takes
    (nameko's AMQP_SSL setting): None for amqp://. For amqps:// the broker's certificate must
    chain to AMQP_CA_FILE (the system's CAs when unset) and name the host the URI names: kombu's
    own amqps:// checks the chain against the system's CAs only, and no name at all.

    kombu fills server_hostname=None in with the host it connects to, in the dict itself, the
    first time: with a failover list of brokers, the certificate of each must also name the
    first (the RabbitMQ operator's certificate names the Service, which is the one address).
    AMQP_CA_FILE with a plain amqp:// URI is refused: TLS was meant, and would be missing."""
    uri = uri or amqp_uri()
    ca_file = env("AMQP_CA_FILE")
    if urlsplit(amqp_addresses(uri)[0]).scheme != "amqps":  # all alike (amqp_addresses)
        if ca_file:
            raise RuntimeError("AMQP_CA_FILE is set but AMQP_URI is not amqps://: the broker "
                               "would be reached without TLS")
        return None
    options = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": None,
               "tls_minimum_version": ssl.TLSVersion.TLSv1_2}
    if ca_file:
        options["ca_certs"] = ca_file
    return options


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, or an SQLite file under var/ (the embedded default)."""
    url = env(f"{service.upper()}_DATABASE_URL")
    return url or f"sqlite:///{var_dir() / (service + '.db')}"


def require(name: str) -> str:
    value = env(name)
    if value is None:
        raise RuntimeError(f"{name} must be set in the environment")
    return value
