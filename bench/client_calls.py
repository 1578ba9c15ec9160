"""Namespace API client: calls per 1,000 IDs in each mode, and client overhead per call.

    .venv/bin/python -m bench.client_calls [--ids 10000]

Against the emulator in its own process on loopback, latency injection off. The floor is
1 call per 1,000 IDs (`fast`, and `adaptive` on text when each answer settles every ID: all
present or none; a mixed one leaves `deleted_or_not_found`, and the engine, not this client
call, then switches the namespace to `exact`); `exact` adds the documents/get checks (about
11 per 1,000);
`single` is one call per ID. The overhead column compares our client's wall time per HTTP
call with a bare httpx loop sending the same requests on the same keep-alive connection,
measured in the same run: the ratio is what our parsing and bookkeeping cost.
"""

from __future__ import annotations

import argparse
import time

import httpx

from bench.common import KEY, api_calls, emulator_process, seed, table
from namespace_api.client import NamespaceApiClient


def measure_mode(root: str, *, flavor: str, kind: str, mode: str, n: int, present: float):
    ids = [f"{kind}-{i}" for i in range(n)]
    stored = ids[: int(n * present)]
    item = (
        (lambda i: {"id": i, "text": "t"})
        if kind == "text"
        else (lambda i: {"id": i, "vector": [0.1, 0.2]})
    )
    namespace = {"name": "bench", "type": kind, "items": [item(i) for i in stored]}
    if kind == "vector":
        namespace["vector_dimension"] = 2
    seed(root, [namespace])
    base = root + ("/v1" if flavor == "cloud" else "")
    with NamespaceApiClient(base_url=base, api_key=KEY, flavor=flavor) as client:
        started = time.perf_counter()
        result = client.erase(namespace="bench", kind=kind, ids=ids, mode=mode)
        elapsed = time.perf_counter() - started
    calls = api_calls(root)
    assert len(result.results) == n, "every ID must have an outcome"
    return calls, elapsed


def bare_httpx(root: str, *, n_calls: int, ids_per_call: int) -> float:
    """Seconds per call of a bare httpx loop: POST vectors/delete, parse JSON, nothing else."""
    seed(root, [{"name": "bench", "type": "vector", "vector_dimension": 2, "items": []}])
    payload = {"ids": [f"x-{i}" for i in range(ids_per_call)]}
    with httpx.Client(base_url=root + "/v1", headers={"x-api-key": KEY}) as http:
        started = time.perf_counter()
        for _ in range(n_calls):
            http.post("/namespaces/bench/vectors/delete", json=payload).json()
        return (time.perf_counter() - started) / n_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ids", type=int, default=10_000)
    args = parser.parse_args()
    n = args.ids
    rows = []
    with emulator_process() as cloud:
        cases = [
            ("cloud", "vector", "fast", n, 1.0),
            ("cloud", "vector", "fast", n, 0.5),
            ("cloud", "text", "adaptive", n, 1.0),
            ("cloud", "text", "adaptive", n, 0.0),
            ("cloud", "text", "adaptive", n, 0.5),
            ("cloud", "text", "exact", n, 1.0),
            ("cloud", "text", "exact", n, 0.5),
            ("cloud", "vector", "single", min(n, 2000), 1.0),
        ]
        for flavor, kind, mode, count, present in cases:
            calls, elapsed = measure_mode(
                cloud, flavor=flavor, kind=kind, mode=mode, n=count, present=present
            )
            rows.append(
                (
                    flavor,
                    kind,
                    mode,
                    count,
                    f"{present:.0%}",
                    calls,
                    f"{calls / count * 1000:.1f}",
                    f"{elapsed / calls * 1000:.2f}",
                )
            )
        # Overhead: 1,000-ID vector deletes, ours vs bare httpx, same emulator, same run.
        calls, elapsed = measure_mode(
            cloud, flavor="cloud", kind="vector", mode="fast", n=200_000, present=1.0
        )
        ours = elapsed / calls
        bare = bare_httpx(cloud, n_calls=calls, ids_per_call=1000)
    with emulator_process(flavor="onprem") as onprem:
        calls, elapsed = measure_mode(
            onprem, flavor="onprem", kind="vector", mode="fast", n=n, present=0.5
        )
        rows.append(
            (
                "onprem",
                "vector",
                "fast",
                n,
                "50%",
                calls,
                f"{calls / n * 1000:.1f}",
                f"{elapsed / calls * 1000:.2f}",
            )
        )
    print(
        table(
            rows, ("flavor", "kind", "mode", "ids", "present", "calls", "calls/1000 ids", "ms/call")
        )
    )
    print()
    print(
        f"1,000-ID deletes: our client {ours * 1000:.2f} ms/call, bare httpx "
        f"{bare * 1000:.2f} ms/call, ratio {ours / bare:.2f}x "
        f"(client overhead {max(ours - bare, 0) * 1000:.2f} ms per dispatch)"
    )


if __name__ == "__main__":
    main()
