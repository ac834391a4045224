"""The operators' command line, as an SRE runs it: a process with the service's environment."""

import os
import subprocess
import sys

from cryptography.fernet import Fernet

from services.auth.tests.test_service import make_service, register
from services.shared.sealed import Sealer


def run_cli(url, *args):
    env = {**os.environ, "AUTH_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "services.auth.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_grant_list_revoke_editor(service_database_url, migrated_database, clock):
    accounts = make_service(migrated_database("auth"), Sealer(Fernet.generate_key().decode()),
                            clock)
    register(accounts, "ed@example.org")

    granted = run_cli(service_database_url, "grant", "editor", "ed@example.org")
    assert granted.returncode == 0, granted.stderr
    assert "roles editor" in granted.stdout
    assert run_cli(service_database_url, "list", "editor").stdout.startswith("ed@example.org\t")
    assert run_cli(service_database_url, "revoke", "editor", "ed@example.org").returncode == 0
    assert run_cli(service_database_url, "list", "editor").stdout == ""
    missing = run_cli(service_database_url, "grant", "editor", "ghost@example.org")
    assert missing.returncode == 1 and "not_found" in missing.stderr
