"""The one place where the gateway is put together."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import errors, i18n, media, observability, security, sessions, uploads, web
from .api.accounts import accounts
from .api.downloads import downloads
from .api.news import news
from .config import config_from_env, signing_config
from .files import files
from .health import health
from .newsletter import newsletter
from .observability import MeteredRpc
from .openapi import meta
from .rpc import NamekoRpc, RpcClient


def create_app(rpc: RpcClient | None = None, config: dict | None = None) -> Flask:
    """`rpc`: how services are called (default: a pool of nameko proxies, started on first
    use). `config`: overrides of the settings read from the environment (config.py)."""
    app = Flask(__name__)
    app.config.update(config_from_env())
    app.config.update(config or {})
    # SESSION_KEYS, CSRF_KEYS, DOWNLOAD_LINK_KEYS, UNSUBSCRIBE_KEYS: refuses to start without
    app.config.update(signing_config(app.config))
    app.json.sort_keys = False  # answers read in the order they are written
    app.json.ensure_ascii = False  # UTF-8 JSON: "caractères", not "caract\u00e8res"

    trusted = app.config["TRUSTED_PROXY_COUNT"]
    if trusted > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted)

    app.extensions["rpc"] = MeteredRpc(rpc or NamekoRpc.from_config(app.config))

    # after_request hooks run in reverse order of registration: observability is registered
    # first so that it runs last and logs and counts the final status.
    observability.init_app(app)
    security.init_app(app)
    sessions.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)

    app.register_blueprint(health)
    app.register_blueprint(accounts)
    app.register_blueprint(news)
    app.register_blueprint(downloads)
    app.register_blueprint(meta)
    app.register_blueprint(newsletter)
    media.init_app(app)
    uploads.init_app(app)
    app.register_blueprint(files)
    web.init_app(app)
    return app
