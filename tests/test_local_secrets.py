"""The local run's secrets file (scripts/local_secrets.py): every signing key ring generated,
the retired SECRET_KEY dropped from a file made before, what is there kept."""

import importlib.util
import stat
from pathlib import Path

from services.shared import signing_keys
from services.shared.signing_keys import KeyRing, check_apart

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "local_secrets.py"


def load():
    spec = importlib.util.spec_from_file_location("local_secrets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_a_first_run_makes_every_secret_each_purpose_its_own_key(tmp_path):
    path = tmp_path / "secrets.env"
    added = load().fill(path)
    values = read(path)
    assert set(added) == set(values) == {*signing_keys.ALL, "CODE_HASH_KEY",
                                          "CODE_ENCRYPTION_KEY"}
    check_apart(KeyRing.parse(name, values[name]) for name in signing_keys.ALL)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load().fill(path) == [] and read(path) == values   # a second run changes nothing


def test_a_file_from_before_loses_secret_key_and_keeps_the_rest(tmp_path):
    path = tmp_path / "secrets.env"
    path.write_text("SECRET_KEY=" + "s" * 64 + "\nCODE_HASH_KEY=" + "h" * 64 +
                    "\nCODE_ENCRYPTION_KEY=abc=\n")
    path.chmod(0o644)
    assert set(load().fill(path)) == set(signing_keys.ALL)
    values = read(path)
    assert "SECRET_KEY" not in values
    assert values["CODE_HASH_KEY"] == "h" * 64 and values["CODE_ENCRYPTION_KEY"] == "abc="
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_local_supervisor_gives_each_process_only_its_own_signing_keys():
    spec = importlib.util.spec_from_file_location(
        "devrun", SCRIPT.with_name("devrun.py"))
    devrun = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(devrun)
    environ = {**signing_keys.fresh(), "AMQP_URI": "amqp://x", "CODE_ENCRYPTION_KEY": "f"}
    mailer = devrun.process_env("mailer", environ)
    assert [k for k in mailer if k in signing_keys.ALL] == ["UNSUBSCRIBE_KEYS"]
    assert mailer["AMQP_URI"] == "amqp://x" and mailer["CODE_ENCRYPTION_KEY"] == "f"
    assert set(signing_keys.ALL) <= set(devrun.process_env("gateway", environ))
    assert not set(signing_keys.ALL) & set(devrun.process_env("catalog", environ))
    assert {p[0] for p in devrun.PROCESSES} >= set(signing_keys.HELD_BY)
