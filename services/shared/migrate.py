"""Database migrations (Alembic), one history per service under `services/<name>/migrations`.

    python -m services.shared.migrate auth mailer          # upgrade each to head
    python -m services.shared.migrate --new "add x" auth   # autogenerate a revision
"""

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config

from .config import database_url

SERVICES_DIR = Path(__file__).resolve().parents[1]


def alembic_config(service: str, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("sqlalchemy.url", url or database_url(service))
    config.attributes["service"] = service
    return config


def upgrade(service: str, url: str | None = None) -> None:
    command.upgrade(alembic_config(service, url), "head")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="+")
    parser.add_argument("--new", metavar="MESSAGE", help="autogenerate a revision")
    args = parser.parse_args()
    for service in args.services:
        if args.new:
            command.revision(alembic_config(service), message=args.new, autogenerate=True)
        else:
            upgrade(service)
            print(f"{service}: database at the latest revision")


if __name__ == "__main__":
    main()
