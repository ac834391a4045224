"""Account administration for operators, on one machine or in a pod (same environment as the
service: `AUTH_DATABASE_URL`, keys).

    python -m services.auth.cli grant editor jane@example.org
    python -m services.auth.cli revoke editor jane@example.org
    python -m services.auth.cli list editor
"""

import argparse
import json
import logging
import sys

from services.shared.config import database_url
from services.shared.db import make_engine, make_session_factory
from services.shared.errors import ServiceError

from .models import outbox
from .service import AccountService, AuthSettings, Passwords

log = logging.getLogger("services.auth.cli")


def account_service(session) -> AccountService:
    # Roles need no code keys: those parts stay unconfigured (an operator's shell may not
    # hold the service's secrets).
    return AccountService(session, outbox, limits={}, sealer=None,
                          settings=AuthSettings(code_key=b""), passwords=Passwords())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("grant", "revoke"):
        one = sub.add_parser(command)
        one.add_argument("role")
        one.add_argument("email")
    sub.add_parser("list").add_argument("role")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    engine = make_engine(database_url("auth"))
    try:
        with make_session_factory(engine)() as session:
            accounts = account_service(session)
            if args.command == "list":
                for account in accounts.accounts_with_role(args.role):
                    print(f"{account['email']}\t{account['full_name']}\t{account['organisation']}")
                return 0
            account = accounts.set_role(args.email, args.role, granted=args.command == "grant")
            log.info(json.dumps({"audit": f"role {args.command}", "role": args.role,
                                 "account_id": account["id"], "roles": account["roles"]}))
            print(f"{account['email']}: roles {', '.join(account['roles']) or '(none)'}")
            return 0
    except ServiceError as error:
        print(f"error: {error.code} {error.details or ''}".strip(), file=sys.stderr)
        return 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
