"""Identity webhooks: deliveries per second through gunicorn on loopback.

    .venv/bin/python -m bench.webhooks [--deliveries 3000] [--duplicates 0.2] [--forged 0.2]
                                      [--workers 3] [--clients 6] [--rounds 3]

Starts gunicorn (sync workers, the production server) on the service with one Standard
Webhooks source, and one Procrastinate worker beside it, as in production. Then sends,
from client threads, a shuffled mix of valid deliveries (each for its own user),
redeliveries of some of them (same webhook-id) and deliveries signed with a wrong secret.
In the same run, on the same server, the same bodies go to a trivial Django view (through
the same middleware, no database) for the ratio, in rounds: the trivial view, then the
webhook, on each round's share of the mix; the ratio is the median of the rounds'. The
intake figure is the throughput of the webhook endpoint while the worker acts on what it
recorded; then each round waits until the worker has acted on every delivery, and the run
reports how long that took in all. Afterwards the
number of requests filed must equal the number of unique valid deliveries.

Uses a database of its own (`webhooks_bench`, recreated) on the server of DATABASE_URL, or
on 127.0.0.1:5432. Every delivery is signed before the clock starts; the run must finish
within the scheme's 5-minute window.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

from bench.common import (
    ROOT,
    children_of,
    free_port,
    fresh_database,
    postgres_backends,
    process_cpu_seconds,
    table,
    timed_threads,
)

BENCH_DB = "webhooks_bench"
SLUG = "bench"
SECRET = "whsec_" + base64.b64encode(b"bench-secret-32-bytes-long-12345").decode()
WRONG = "whsec_" + base64.b64encode(b"forged-secret-32-bytes-long-1234").decode()
TRIVIAL_PATH = "/bench/trivial/"


def bench_application() -> Any:
    """gunicorn's app factory (`bench.webhooks:bench_application()`): the service, plus a
    trivial view that answers any method with 200 and reads nothing."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application
    from django.http import HttpRequest, HttpResponse
    from django.urls import clear_url_caches, path
    from django.views.decorators.csrf import csrf_exempt

    from config import urls

    @csrf_exempt
    def trivial(request: HttpRequest) -> HttpResponse:
        return HttpResponse(b"ok")

    urls.urlpatterns.append(path(TRIVIAL_PATH.strip("/") + "/", trivial))
    clear_url_caches()
    return get_wsgi_application()


def bench_database_url() -> str:
    return fresh_database(BENCH_DB)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def deliveries(n: int, duplicates: float, forged: float) -> tuple[list, int]:
    """The shuffled mix, and how many unique valid deliveries it holds."""
    rng = random.Random(1234)  # noqa: S311 (a reproducible mix, not a secret)
    now = int(time.time())
    n_forged = int(n * forged)
    n_duplicates = int(n * duplicates)
    n_unique = n - n_forged - n_duplicates
    valid = []
    for i in range(n_unique):
        body = json.dumps(
            {
                "type": "user.deleted",
                "timestamp": "2026-01-01T00:00:00Z",
                "data": {"id": f"user_{i:07d}", "object": "user", "deleted": True},
            }
        ).encode()
        msg_id = f"msg_{i:07d}"
        valid.append((body, {"webhook-id": msg_id, "webhook-timestamp": str(now)}, SECRET))
    mix = [("new", *v) for v in valid]
    mix += [("redelivery", *rng.choice(valid)) for _ in range(n_duplicates)]
    for i in range(n_forged):
        body, headers, _ = rng.choice(valid)
        mix.append(("forged", body, {**headers, "webhook-id": f"msg_forged_{i}"}, WRONG))
    rng.shuffle(mix)
    signed = []
    for kind, body, headers, secret in mix:
        signature = sign(secret, headers["webhook-id"], now, body)
        signed.append((kind, body, {**headers, "webhook-signature": signature}))
    return signed, n_unique


def send_all(port: int, path: str, items: list, clients: int) -> tuple[float, Counter, list]:
    """POST every item, `clients` at a time; a new connection per request (gunicorn's sync
    workers close it after each answer). Returns the wall time, the statuses, and
    (kind, latency) per request."""
    statuses: Counter = Counter()
    latencies: list[tuple[str, float]] = []
    lock = threading.Lock()
    position = iter(range(len(items)))

    def worker() -> None:
        local_status: Counter = Counter()
        local_lat = []
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                break
            kind, body, headers = items[index]
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request(
                "POST", path, body=body, headers={"Content-Type": "application/json", **headers}
            )
            response = conn.getresponse()
            response.read()
            conn.close()
            local_lat.append((kind, time.perf_counter() - started))
            local_status[response.status] += 1
        with lock:
            statuses.update(local_status)
            latencies.extend(local_lat)

    return timed_threads(worker, clients), statuses, latencies


def add_runs(total: tuple, run: tuple) -> tuple[float, Counter, list]:
    """Two results of send_all as one."""
    return total[0] + run[0], total[1] + run[1], total[2] + run[2]


def percentiles(times: list[float]) -> tuple[str, str]:
    times = sorted(times)
    p99 = times[max(int(len(times) * 0.99) - 1, 0)]
    return f"{statistics.median(times) * 1000:.1f}", f"{p99 * 1000:.1f}"


def wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--forged", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=6, help="concurrent client threads")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="trivial-then-webhook rounds; the ratio is their median",
    )
    args = parser.parse_args()

    database_url = bench_database_url()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-secret"),
        SUBJECT_HASH_KEY=os.environ.get("SUBJECT_HASH_KEY", "bench-subject-hash-key"),
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="false",
        LOG_LEVEL="INFO",  # the server logs as in production (one line per delivery)
    )
    os.environ.update(env)
    os.environ["LOG_LEVEL"] = "WARNING"  # this process only sets up and counts
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    import django

    django.setup()
    from erasure.models import ErasureRequest
    from webhooks.models import DeliveryOutcome, WebhookDelivery, WebhookSecret, WebhookSource
    from webhooks.services import secret_prefix

    source = WebhookSource.objects.create(slug=SLUG, scheme="standard_webhooks")
    WebhookSecret.objects.create(source=source, value=SECRET, prefix=secret_prefix(SECRET))

    items, unique = deliveries(args.deliveries, args.duplicates, args.forged)
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.webhooks:bench_application()",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "procrastinate", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(port, server)
        # Warm every worker up (imports, first database connection) on both paths; the
        # forged warm-ups write nothing.
        warm = [("warm", b"{}", {"webhook-id": f"w{i}"}) for i in range(args.workers * 10)]
        send_all(port, TRIVIAL_PATH, warm, args.clients)
        send_all(port, f"/webhooks/{SLUG}/", warm, args.clients)
        # Where the CPU goes: gunicorn's workers, the worker, PostgreSQL.
        roles = {pid: "gunicorn" for pid in children_of(server.pid)}
        roles[worker.pid] = "worker"
        roles.update((pid, "postgres") for pid in postgres_backends(database_url))
        # Rounds, each the trivial view then the webhook on its share of the mix: a
        # machine whose speed drifts during the run weighs on both alike.
        trivial, hooks = (0.0, Counter(), []), (0.0, Counter(), [])
        cpu: list[Counter] = [Counter(), Counter()]
        ratios = []
        acted_after = 0.0
        for share in (items[i :: args.rounds] for i in range(args.rounds)):
            marks = [process_cpu_seconds(list(roles))]
            plain = send_all(port, TRIVIAL_PATH, share, args.clients)
            marks.append(process_cpu_seconds(list(roles)))
            intake_started = time.perf_counter()
            hook = send_all(port, f"/webhooks/{SLUG}/", share, args.clients)
            marks.append(process_cpu_seconds(list(roles)))
            # Until the worker has acted on every delivery recorded.
            while WebhookDelivery.objects.filter(outcome=DeliveryOutcome.RECEIVED).exists():
                if worker.poll() is not None:
                    sys.exit("the worker exited")
                time.sleep(0.05)
            acted_after += time.perf_counter() - intake_started
            ratios.append((len(hook[2]) / hook[0]) / (len(plain[2]) / plain[0]))
            trivial = add_runs(trivial, plain)
            hooks = add_runs(hooks, hook)
            for run, (begin, end) in enumerate(zip(marks, marks[1:], strict=False)):
                for pid, seconds in end.items():
                    cpu[run][roles[pid]] += seconds - begin.get(pid, 0.0)
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            process.wait(timeout=30)

    filed = ErasureRequest.objects.count()
    recorded = WebhookDelivery.objects.count()
    rows = []
    for name, (elapsed, statuses, timed) in (("trivial view", trivial), ("webhook", hooks)):
        rows.append(
            (
                name,
                "all",
                len(timed),
                ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items())),
                f"{elapsed:.2f}",
                f"{len(timed) / elapsed:.0f}",
                *percentiles([t for _, t in timed]),
            )
        )
    for kind in ("new", "redelivery", "forged"):
        times = [t for k, t in hooks[2] if k == kind]
        rows.append(("webhook", kind, len(times), "", "", "", *percentiles(times)))
    ratio = statistics.median(ratios)
    print()
    print(
        f"{args.deliveries:,} deliveries: {unique:,} unique valid, "
        f"{int(args.deliveries * args.duplicates):,} redeliveries, "
        f"{int(args.deliveries * args.forged):,} forged; gunicorn {args.workers} sync workers, "
        f"{args.clients} client threads, loopback, {os.cpu_count()} CPUs"
    )
    print(
        table(
            rows,
            ("view", "deliveries", "n", "statuses", "wall s", "req/s", "p50 ms", "p99 ms"),
        )
    )
    print(
        f"webhook / trivial throughput (intake, the worker acting beside it): {ratio:.2f}, "
        f"the median of {args.rounds} rounds ({', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(
        f"every delivery acted upon {acted_after:.2f} s after the first was sent, rounds "
        f"added up (intake took {hooks[0]:.2f} s): {unique / acted_after:.0f} requests "
        "filed/s end to end"
    )
    for name, used in zip(("trivial view", "webhook intake"), cpu, strict=True):
        print(
            f"CPU seconds, {name}: "
            + ", ".join(f"{role} {used[role]:.2f}" for role in ("gunicorn", "postgres", "worker"))
            + f" ({sum(used.values()) / args.deliveries * 1000:.2f} ms per request)"
        )
    print("(PostgreSQL: the server processes of the connections open before the runs)")
    ok = filed == unique and recorded == unique
    ok = ok and not WebhookDelivery.objects.exclude(outcome=DeliveryOutcome.FILED).exists()
    print(
        f"requests filed: {filed:,}, delivery rows: {recorded:,}, unique valid deliveries: "
        f"{unique:,} -> {'OK' if ok else 'MISMATCH'}"
    )
    expected = {200: args.deliveries - int(args.deliveries * args.forged)}
    expected[401] = int(args.deliveries * args.forged)
    if not ok or dict(hooks[1]) != expected:
        sys.exit(f"unexpected result: statuses {dict(hooks[1])}, expected {expected}")


if __name__ == "__main__":
    main()
