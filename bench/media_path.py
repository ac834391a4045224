"""The media path through the front door, beside nginx alone, in the same run.

    .venv/bin/python -m bench.media_path [--size-mb 1024] [--upload-mb 256] [--slow 64]
                                         [--backend sqlite]

1. Download throughput of one large file: through the front door (the gateway checks the
   signed link and the session, nginx sends the file) and from a plain nginx serving the same
   file as a static file (the baseline), three times each, alternating; the ratio of the
   medians (goal: 0.9 or more).
2. The API's p95 (`GET /api/v1/news`, `GET /healthz`) with no download running, then with
   `--slow` downloads held open at 20 KB/s each (curl --limit-rate): the ratio.
3. Upload throughput: tus (tuspy, chunks of UPLOAD_CHUNK_MAX_BYTES, each buffered by nginx then
   appended by the gateway) beside a plain PUT of the same file to nginx (its DAV module).
   The file is random bytes: the upload's last chunk is refused once complete (422, not
   media), which costs one ffprobe; the time counts every byte through.

The system runs as in the tests (tests/support/system.py). The large file is written once under
the system's media folder and linked with a token signed like the gateway's own links (the
system's DOWNLOAD_LINK_KEYS), for a real journalist's account."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import requests
from itsdangerous import URLSafeTimedSerializer
from tusclient import client as tus
from tusclient.exceptions import TusCommunicationError

from gateway.files import SALT
from services.transcoder.media.sample import make_master
from tests.journeys import bearer, editor, ingest, publish, request_download, signed_in
from tests.support.processes import free_port
from tests.support.system import running_system

ITEM = {"translations": {"en": {"title": "Benchmark", "summary": "A benchmark.",
                                "body": "A benchmark."}}}
PLAIN_NGINX = """
worker_processes auto;
pid {prefix}/nginx.pid;
error_log stderr warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    sendfile on; sendfile_max_chunk 2m; tcp_nopush on; aio threads;
    access_log off;
    client_body_temp_path {prefix}/tmp/body; proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/f; uwsgi_temp_path {prefix}/tmp/u; scgi_temp_path {prefix}/tmp/s;
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{ alias {static}/; }}
        location /put/ {{
            alias {prefix}/put/;
            dav_methods PUT;
            client_max_body_size 0;
            create_full_put_path on;
        }}
    }}
}}
"""


def plain_nginx(prefix: Path, static: Path) -> tuple[subprocess.Popen, str]:
    """nginx with the simplest config that serves `static` and takes PUTs: the baseline."""
    port = free_port()
    for folder in ("tmp", "put"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(PLAIN_NGINX.format(prefix=prefix, static=static, port=port))
    if os.geteuid() == 0:
        config.write_text("user root root;\n" + config.read_text())
    process = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(config), "-e", "stderr"])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    return process, url


def download_rate(url: str, headers: dict | None = None) -> float:
    """Bytes per second, as curl measures them."""
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{speed_download}"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], check=True, capture_output=True, text=True,
                         timeout=600).stdout
    return float(out)


def p95(system, path: str, count: int) -> float:
    spent = []
    for _ in range(count):
        started = time.perf_counter()
        assert system.api("GET", path, timeout=30).status_code == 200
        spent.append(time.perf_counter() - started)
    return statistics.quantiles(spent, n=20)[-1]


def signed_link(system, real_link: str, path: str) -> str:
    """A link like `real_link` (same account), to another file under MEDIA_ROOT."""
    serializer = URLSafeTimedSerializer(system.env["DOWNLOAD_LINK_KEYS"], salt=SALT)
    payload = serializer.loads(real_link.rsplit("/", 1)[1])
    token = serializer.dumps({**payload, "path": path, "filename": "bench.bin"})
    return f"{system.url}/files/{token}"


def tus_upload(system, token: str, path: Path, chunk: int) -> float:
    client = tus.TusClient(f"{system.url}/api/v1/uploads",
                           headers={"Authorization": f"Bearer {token}"})
    uploader = client.uploader(str(path), chunk_size=chunk, metadata={"filename": "bench.bin"})
    started = time.perf_counter()
    try:
        uploader.upload()
    except TusCommunicationError as error:  # random bytes are not media: refused at the end
        if error.status_code != 422:
            raise
    return path.stat().st_size / (time.perf_counter() - started)


def plain_put(url: str, path: Path) -> float:
    started = time.perf_counter()
    with open(path, "rb") as body:
        response = requests.put(f"{url}/put/{uuid.uuid4().hex}.bin", data=body, timeout=600)
    assert response.status_code in (201, 204), response.status_code
    return path.stat().st_size / (time.perf_counter() - started)


def mb(rate: float) -> str:
    return f"{rate / 1e6:8.1f} MB/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--upload-mb", type=int, default=256)
    parser.add_argument("--slow", type=int, default=64)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--backend", default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-media-") as scratch:
        tmp = Path(scratch)
        master = tmp / "clip.mov"
        make_master(master, 2, size=(320, 180), rate=25)
        with running_system(tmp / "system", backend=args.backend, transcoder=True) as system:
            tap = system.tap()
            edith = editor(system)
            reader = signed_in(system, "reader@example.org", "en")
            item, video = ingest(system, edith, tap, ITEM, master, "clip.mov")
            publish(system, edith, item)
            real = request_download(system, reader, video["id"], rendition="original")
            relative = f"cuts/{video['id']}/bench.bin"
            large = Path(system.env["MEDIA_ROOT"]) / relative
            large.parent.mkdir(parents=True, exist_ok=True)
            with open(large, "wb") as out:
                for _ in range(args.size_mb):
                    out.write(os.urandom(1 << 20))
            link = signed_link(system, real.json()["url"], relative)
            nginx, plain = plain_nginx(tmp / "plain-nginx", large.parent)
            try:
                download_rate(link, bearer(reader))  # both read from the page cache after
                front, alone = [], []
                for _ in range(3):
                    front.append(download_rate(link, bearer(reader)))
                    alone.append(download_rate(f"{plain}/static/bench.bin"))
                print(f"\n1. download of {args.size_mb} MB (median of 3)")
                print(f"   nginx alone, static file   {mb(statistics.median(alone))}")
                print(f"   front door (gateway+nginx) {mb(statistics.median(front))}")
                print(f"   ratio {statistics.median(front) / statistics.median(alone):.3f}")

                idle = {path: p95(system, path, args.probes)
                        for path in ("/healthz", "/api/v1/news")}
                slow = [subprocess.Popen(
                    ["curl", "-sS", "--limit-rate", "20k", "-H",
                     f"Authorization: Bearer {reader}", "-o", "/dev/null", link],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for _ in range(args.slow)]
                try:
                    time.sleep(2)
                    loaded = {path: p95(system, path, args.probes) for path in idle}
                    held = sum(1 for download in slow if download.poll() is None)
                finally:
                    for download in slow:
                        download.kill()
                        download.wait()
                print(f"\n2. API p95 over {args.probes} requests, idle and with {held} of "
                      f"{args.slow} downloads held open at 20 KB/s")
                for path in idle:
                    print(f"   {path:14} {idle[path] * 1000:7.1f} ms -> "
                          f"{loaded[path] * 1000:7.1f} ms  ratio "
                          f"{loaded[path] / idle[path]:.2f}")

                upload = tmp / "upload.bin"
                with open(upload, "wb") as out:
                    for _ in range(args.upload_mb):
                        out.write(os.urandom(1 << 20))
                chunk = int(system.env.get("UPLOAD_CHUNK_MAX_BYTES", 64 * 1024 * 1024))
                put = plain_put(plain, upload)
                tus_rate = tus_upload(system, edith, upload, chunk)
                print(f"\n3. upload of {args.upload_mb} MB")
                print(f"   plain PUT to nginx         {mb(put)}")
                print(f"   tus through the front door {mb(tus_rate)} "
                      f"(chunks of {chunk // (1024 * 1024)} MiB)")
                print(f"   ratio {tus_rate / put:.3f}")
            finally:
                nginx.terminate()
                nginx.wait()


if __name__ == "__main__":
    main()
