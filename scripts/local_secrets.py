"""The local run's secrets (`var/secrets.env`, mode 600), made by ./scripts/run: each one
generated the first time it is missing, then kept, so a second run changes nothing and a file
from before a new secret existed gets just that secret added. A retired setting is dropped.
No value is ever printed; the names added are.

    python scripts/local_secrets.py var/secrets.env"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.shared import signing_keys  # noqa: E402  (the repository on the path first)

MAKERS: dict[str, Callable[[], str]] = {
    **{setting: signing_keys.generate for setting in signing_keys.ALL},
    "CODE_HASH_KEY": lambda: secrets.token_hex(32),
    "CODE_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
}
RETIRED = (signing_keys.RETIRED,)


def name_of(line: str) -> str:
    return line.split("=", 1)[0].strip() if "=" in line else ""


def fill(path: Path) -> list[str]:
    """Adds what is missing to `path`, drops what is retired; the names added."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if name_of(line) not in RETIRED]
    have = {name_of(line) for line in kept}
    added = [name for name in MAKERS if name not in have]
    if not added and kept == lines and path.exists():
        os.chmod(path, 0o600)
        return []
    kept += [f"{name}={MAKERS[name]()}" for name in added]
    partial = path.with_name(path.name + ".tmp")
    # created 600 from the start: a secret is never readable by others, not even for a moment
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(kept) + "\n")
    os.chmod(partial, 0o600)
    partial.replace(path)
    return added


if __name__ == "__main__":
    for name in fill(Path(sys.argv[1])):
        print(f"secrets: {name} generated")
