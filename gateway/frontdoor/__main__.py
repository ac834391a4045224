"""`python -m gateway.frontdoor render [PATH] | check | run | mtail | exporter` (see
__init__.py).

`run` renders the config and runs nginx in the foreground, with its two metrics companions
when their ports are set (mtail for the traffic by kind, prometheus-nginx-exporter for the
connections): the way one machine and the tests run it. In a Kubernetes pod each runs in a
container of its own (`run` with no companion port, `mtail`, `exporter`)."""

import argparse
import os
import signal
import subprocess
import sys
import time
import warnings

# nameko (imported through the gateway's error table) imports eventlet, which warns that it is
# deprecated; nothing here runs it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from . import (  # noqa: E402
    FrontDoorSettings,
    exporter_command,
    log_files,
    mtail_command,
    nginx_command,
    prepare,
    render,
)

# A stop asks nginx to finish what it is sending (SIGQUIT: graceful, bounded by
# NGINX_SHUTDOWN_SECONDS) instead of cutting every download (SIGTERM, nginx's fast stop).
TO_NGINX = {signal.SIGTERM: signal.SIGQUIT, signal.SIGINT: signal.SIGQUIT,
            signal.SIGHUP: signal.SIGHUP, signal.SIGQUIT: signal.SIGQUIT}


def touch_logs(settings: FrontDoorSettings) -> None:
    """The log files exist before mtail looks for them (it follows the files it finds)."""
    for path in log_files(settings):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)


def rotate(settings: FrontDoorSettings, nginx: subprocess.Popen) -> None:
    """A log file past FRONTDOOR_LOG_MAX_BYTES becomes `<name>.1` (the one before is dropped)
    and nginx reopens its logs (SIGUSR1); mtail follows the new file."""
    rotated = False
    for path in log_files(settings):
        try:
            if path.stat().st_size > settings.log_max_bytes:
                os.replace(path, path.with_name(path.name + ".1"))
                rotated = True
        except FileNotFoundError:
            continue
    if rotated:
        nginx.send_signal(signal.SIGUSR1)


def run(settings: FrontDoorSettings) -> int:
    config = prepare(settings)
    check = subprocess.run(nginx_command(settings, config, "-t", "-q"), check=False)  # noqa: S603
    if check.returncode != 0:
        return check.returncode
    companions = []
    touch_logs(settings)
    nginx = subprocess.Popen(nginx_command(settings, config))  # noqa: S603
    if settings.log_metrics_port:
        companions.append(subprocess.Popen(mtail_command(settings)))  # noqa: S603
    if settings.nginx_metrics_port:
        companions.append(subprocess.Popen(exporter_command(settings)))  # noqa: S603

    def stop(signum, _frame):
        nginx.send_signal(TO_NGINX[signum])
        if signum != signal.SIGHUP:
            for companion in companions:
                companion.terminate()

    for signum in TO_NGINX:
        signal.signal(signum, stop)
    # Whichever ends first ends the front door: a supervisor (devrun, the test harness)
    # starts it again whole.
    while True:
        for process in (nginx, *companions):
            if process.poll() is not None:
                for other in (nginx, *companions):
                    if other.poll() is None:
                        other.send_signal(signal.SIGQUIT if other is nginx else signal.SIGTERM)
                for other in (nginx, *companions):
                    other.wait()
                return nginx.returncode if process is nginx else (process.returncode or 1)
        rotate(settings, nginx)
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.frontdoor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    render_command = commands.add_parser("render", help="print the config (or write PATH)")
    render_command.add_argument("path", nargs="?")
    commands.add_parser("check", help="render into NGINX_PREFIX, then nginx -t")
    commands.add_parser("run", help="render into NGINX_PREFIX and run nginx")
    commands.add_parser("mtail", help="run mtail on nginx's log file")
    commands.add_parser("exporter", help="run prometheus-nginx-exporter")
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
    if args.command == "mtail":
        touch_logs(settings)
        command = mtail_command(settings)
        os.execv(command[0], command)  # noqa: S606
    if args.command == "exporter":
        command = exporter_command(settings)
        os.execv(command[0], command)  # noqa: S606
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
