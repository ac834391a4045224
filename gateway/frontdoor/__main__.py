"""`python -m gateway.frontdoor render [PATH] | check | run` (see __init__.py)."""

import argparse
import signal
import subprocess
import sys
import warnings

# nameko (imported through the gateway's error table) imports eventlet, which warns that it is
# deprecated; nothing here runs it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from . import FrontDoorSettings, nginx_command, prepare, render  # noqa: E402

# A stop asks nginx to finish what it is sending (SIGQUIT: graceful, bounded by
# NGINX_SHUTDOWN_SECONDS) instead of cutting every download (SIGTERM, nginx's fast stop).
FORWARDED = {signal.SIGTERM: signal.SIGQUIT, signal.SIGINT: signal.SIGQUIT,
             signal.SIGHUP: signal.SIGHUP, signal.SIGQUIT: signal.SIGQUIT}


def run(settings: FrontDoorSettings) -> int:
    config = prepare(settings)
    check = subprocess.run(nginx_command(settings, config, "-t", "-q"), check=False)  # noqa: S603
    if check.returncode != 0:
        return check.returncode
    nginx = subprocess.Popen(nginx_command(settings, config))  # noqa: S603
    for ours, theirs in FORWARDED.items():
        signal.signal(ours, lambda _signum, _frame, sig=theirs: nginx.send_signal(sig))
    return nginx.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.frontdoor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render_command = commands.add_parser("render", help="print the config (or write PATH)")
    render_command.add_argument("path", nargs="?")
    commands.add_parser("check", help="render into NGINX_PREFIX, then nginx -t")
    commands.add_parser("run", help="render into NGINX_PREFIX and run nginx")
    args = parser.parse_args(argv)
    settings = FrontDoorSettings.from_env()
    if args.command == "render":
        text = render(settings)
        if args.path:
            with open(args.path, "w") as out:
                out.write(text)
        else:
            sys.stdout.write(text)
        return 0
    if args.command == "check":
        config = prepare(settings)
        return subprocess.run(nginx_command(settings, config, "-t"),  # noqa: S603
                              check=False).returncode
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
