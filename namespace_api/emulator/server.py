"""HTTP/1.1 front of the namespace API emulator, on asyncio streams, stdlib only.

The server parses HTTP, authenticates (cloud flavour), routes, applies latency and the
transport effects of faults (a dropped connection, a late answer), logs each API call and
serialises JSON; everything the contract says about bodies and statuses lives in store.py.
Section numbers refer to /work/shared/docs/namespace-api.md.

Routes, cloud flavour (§2, §4.1), ``x-api-key`` required (§4.2)::

    GET    /v1/namespaces                                   list (§2.4)
    POST   /v1/namespaces                                   create (§2.5)
    DELETE /v1/namespaces/{ns}                              delete, 202 (§2.6)
    POST   /v1/namespaces/{ns}/documents                    upload text, 202 (§2.7)
    POST   /v1/namespaces/{ns}/vectors                      upload vectors, 201 (§2.7)
    POST   /v1/namespaces/{ns}/documents/get                200 / 207 (§2.2)
    GET    /v1/namespaces/{ns}/documents/fetch-text-data    ?limit=&next_token= (§2.3)
    POST   /v1/namespaces/{ns}/documents/delete             200 / 207 / faults (§2.1)
    POST   /v1/namespaces/{ns}/vectors/delete               200 / 207 / faults (§2.1)

On-prem flavour (§3), no prefix, no auth::

    GET    /health, GET /namespaces, POST /namespaces, DELETE /namespaces/{ns} (202, job),
    GET    /namespaces/{ns}/delete-jobs/{job_id}, GET /namespaces/{ns}/upload-jobs/{job_id},
    POST   /namespaces/{ns}/documents, POST /namespaces/{ns}/vectors (202, job),
    POST   /namespaces/{ns}/items/delete, POST /namespaces/{ns}/items/get,
    GET    /namespaces/{ns}/documents/fetch-text-data

Control, both flavours, no auth, never delayed and never logged; a path the real API does
not use::

    GET  /_emulator/state          {"namespaces": {name: {type, owner_key, vector_dimension, ids}}}
    GET  /_emulator/calls          {"calls": [{method, path, status, ids_count, fault}]}
                                   (status null: the connection was dropped)
    POST /_emulator/calls/clear
    GET  /_emulator/faults         {"queued": [...], "probabilities": [...]}
    POST /_emulator/faults         {"namespace": "*"|name, "probabilities": {fault: p},
                                    "endpoint"?, "retry_after"?, "retry_after_style"?,
                                    "slow_seconds"?}   ({} probabilities removes the entry)
    POST /_emulator/faults/next    {"namespace": "*"|name, "fault": ..., "count"?: N,
                                    "endpoint"?: "delete"|"get"|"any",
                                    "retry_after"?: seconds | HTTP-date | null,
                                    "retry_after_style"?: "seconds"|"http-date",
                                    "slow_seconds"?: seconds}
    POST /_emulator/faults/clear
    POST /_emulator/reset          back to the start-up state (settings and faults included,
                                   snapshots dropped)
    POST /_emulator/seed           {"api_key"?,
                                    "namespaces": [{name, type, vector_dimension?, items}]}
    POST /_emulator/snapshots      {"name": ...}  deep copies of every namespace and its items
                                   (an existing name is replaced); answers {"status": "ok",
                                   "snapshot": name, "namespaces": n, "items": m}
    POST /_emulator/snapshots/restore
                                   {"name": ...}  every namespace back as in the snapshot;
                                   faults, calls, jobs, keys and config untouched; same
                                   answer; an unknown name is 400
    GET  /_emulator/snapshots      {"snapshots": [{name, namespaces, items, taken_at}]}
    GET  /_emulator/config, POST /_emulator/config   {"latency_ms"?, and any store setting:
                                    wrong_kind_mode, partial_shape, get_items_key,
                                    get_missing, list_casing, duplicates, auth_error_style,
                                    slow_seconds, ingestion_delay_seconds, onprem_max_items,
                                    api_keys, disabled_api_keys}

Faults (store.py ``FAULTS``) are "partial", "rate_limit", "subscription_expired",
"forbidden", "server_error", "delete_then_error", "drop" (close without answering, nothing
applied), "delete_then_drop" (applied, then closed) and "slow" (applied, answered after
``slow_seconds``; the wait is an ``asyncio.sleep``, so other connections go on).

HTTP support is deliberately minimal: keep-alive (HTTP/1.1 default, ``Connection: close``
honoured), ``Content-Length`` request bodies, ``Expect: 100-continue``. Chunked request
bodies are refused with 501.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Literal, Self, cast
from urllib.parse import parse_qsl, unquote

from namespace_api.emulator.store import (
    DEFAULT_RETRY_AFTER,
    CallEffects,
    EmulatorStore,
    JSONDict,
    Response,
    count_request_ids,
    parse_json_body,
)

logger = logging.getLogger(__name__)

_REASONS: Final = {status.value: status.phrase for status in HTTPStatus}
_NOT_FOUND: Final[Response] = (404, {"message": "Not Found"}, {})
_EMULATOR_BUG: Final[Response] = (
    500,
    {"status": "failure", "message": "Internal Server Error (emulator bug)."},
    {},
)
_CONTROL_PREFIX: Final = "/_emulator/"
# Headers larger than this are refused with 431; bodies are bounded by Content-Length only,
# because seeding sends hundreds of thousands of items in one request.
_HEADER_LIMIT: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Call:
    """One routed API call: the path's placeholders and the decoded request."""

    api_key: str
    namespace: str
    job_id: str
    body: Any
    query: dict[str, str]


type _Handler = Callable[[EmulatorStore, _Call], Response]


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: _Handler
    has_body: bool


def _route(method: str, path: str, handler: _Handler, *, has_body: bool = True) -> _Route:
    """A route whose ``{ns}``/``{job}`` placeholders match one percent-encoded path segment."""
    pattern = re.escape(path)
    for name in ("ns", "job"):
        pattern = pattern.replace(re.escape(f"{{{name}}}"), f"(?P<{name}>[^/]+)")
    return _Route(method, re.compile(pattern), handler, has_body)


_CLOUD_ROUTES: Final = (
    _route(
        "GET", "/v1/namespaces", lambda s, c: s.list_namespaces(api_key=c.api_key), has_body=False
    ),
    _route(
        "POST", "/v1/namespaces", lambda s, c: s.create_namespace(api_key=c.api_key, body=c.body)
    ),
    _route(
        "DELETE",
        "/v1/namespaces/{ns}",
        lambda s, c: s.delete_namespace(api_key=c.api_key, namespace=c.namespace),
        has_body=False,
    ),
    _route(
        "POST",
        "/v1/namespaces/{ns}/documents",
        lambda s, c: s.upload_documents(api_key=c.api_key, namespace=c.namespace, body=c.body),
    ),
    _route(
        "POST",
        "/v1/namespaces/{ns}/vectors",
        lambda s, c: s.upload_vectors(api_key=c.api_key, namespace=c.namespace, body=c.body),
    ),
    _route(
        "POST",
        "/v1/namespaces/{ns}/documents/get",
        lambda s, c: s.get_documents(api_key=c.api_key, namespace=c.namespace, body=c.body),
    ),
    _route(
        "GET",
        "/v1/namespaces/{ns}/documents/fetch-text-data",
        lambda s, c: s.fetch_text_data(api_key=c.api_key, namespace=c.namespace, query=c.query),
        has_body=False,
    ),
    _route(
        "POST",
        "/v1/namespaces/{ns}/documents/delete",
        lambda s, c: s.delete_items(
            api_key=c.api_key, namespace=c.namespace, body=c.body, kind="text"
        ),
    ),
    _route(
        "POST",
        "/v1/namespaces/{ns}/vectors/delete",
        lambda s, c: s.delete_items(
            api_key=c.api_key, namespace=c.namespace, body=c.body, kind="vector"
        ),
    ),
)

_ONPREM_ROUTES: Final = (
    _route("GET", "/health", lambda s, c: s.onprem_health(), has_body=False),
    _route("GET", "/namespaces", lambda s, c: s.onprem_list_namespaces(), has_body=False),
    _route("POST", "/namespaces", lambda s, c: s.onprem_create_namespace(body=c.body)),
    _route(
        "DELETE",
        "/namespaces/{ns}",
        lambda s, c: s.onprem_delete_namespace(namespace=c.namespace),
        has_body=False,
    ),
    _route(
        "GET",
        "/namespaces/{ns}/delete-jobs/{job}",
        lambda s, c: s.onprem_delete_job(namespace=c.namespace, job_id=c.job_id),
        has_body=False,
    ),
    _route(
        "GET",
        "/namespaces/{ns}/upload-jobs/{job}",
        lambda s, c: s.onprem_upload_job(namespace=c.namespace, job_id=c.job_id),
        has_body=False,
    ),
    _route(
        "POST",
        "/namespaces/{ns}/documents",
        lambda s, c: s.onprem_upload(namespace=c.namespace, body=c.body, kind="text"),
    ),
    _route(
        "POST",
        "/namespaces/{ns}/vectors",
        lambda s, c: s.onprem_upload(namespace=c.namespace, body=c.body, kind="vector"),
    ),
    _route(
        "GET",
        "/namespaces/{ns}/documents/fetch-text-data",
        lambda s, c: s.onprem_fetch_text_data(namespace=c.namespace, query=c.query),
        has_body=False,
    ),
    _route(
        "POST",
        "/namespaces/{ns}/items/delete",
        lambda s, c: s.onprem_delete_items(namespace=c.namespace, body=c.body),
    ),
    _route(
        "POST",
        "/namespaces/{ns}/items/get",
        lambda s, c: s.onprem_get_items(namespace=c.namespace, body=c.body),
    ),
)


class _BadRequest(Exception):
    """The request cannot be parsed as HTTP; answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool
    query: str = ""


class EmulatorServer:
    """A loopback HTTP server emulating the namespace API, backed by an ``EmulatorStore``.

    ``start()``/``stop()`` run it in a daemon thread (tests); ``serve_forever()`` runs it in
    the calling thread (the management command). ``latency_ms`` is the time every API
    answer takes from its request's arrival, the store's own work included (a call never
    answers sooner; one whose work takes longer answers when it is done), without blocking
    other connections; it can be changed at any time. ``url`` is the base URL a client
    uses and is valid once listening.

    Keyword arguments beyond the transport's go to ``EmulatorStore``: ``disabled_api_keys``,
    ``faults`` (``NAMESPACE:FAULT[@ENDPOINT]=PROBABILITY`` specs), the response-shape
    switches (``wrong_kind_mode``, ``partial_shape``, ``get_items_key``, ``get_missing``,
    ``list_casing``, ``duplicates``, ``auth_error_style``), ``slow_seconds``,
    ``ingestion_delay_seconds`` and ``onprem_max_items``. A bad value raises ValueError here.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        flavor: Literal["cloud", "onprem"] = "cloud",
        api_keys: Iterable[str] = ("emulator-key",),
        latency_ms: int = 0,
        seed: int = 0,
        **store_settings: Any,
    ) -> None:
        self.store = EmulatorStore(flavor=flavor, api_keys=api_keys, seed=seed, **store_settings)
        self.host = host
        self.flavor = flavor
        self.latency_ms = _latency(latency_ms)
        self._startup_latency_ms = self.latency_ms
        self._requested_port = port
        self._port: int | None = None
        self._routes = _CLOUD_ROUTES if flavor == "cloud" else _ONPREM_ROUTES
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port; valid once listening."""
        if self._port is None:
            raise RuntimeError("the emulator is not listening; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``, without the cloud ``/v1`` prefix (control calls use it)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """What a client uses as its base URL: ``.../v1`` in the cloud flavour (§1, §3)."""
        return f"{self.base_url}/v1" if self.flavor == "cloud" else self.base_url

    def start(self) -> None:
        """Listen in a daemon thread; return once listening, or raise what prevented it."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        ready = threading.Event()
        self._thread_error = None
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="namespace-api-emulator", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._thread_error is not None:
            self._thread.join()
            self._thread = None
            raise self._thread_error

    def stop(self) -> None:
        """Close the listener and every connection, then join the thread. Idempotent."""
        thread = self._thread
        if thread is None:
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            # The loop may already have ended on its own (an error logged by _thread_main).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)
        thread.join()
        self._thread = None
        self._port = None

    def serve_forever(self, *, on_listening: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM or KeyboardInterrupt.

        ``on_listening`` receives ``url`` once the socket is bound (port 0 picks a free one).
        """

        def listening() -> None:
            logger.info("namespace API emulator (%s) listening on %s", self.flavor, self.url)
            if on_listening is not None:
                on_listening(self.url)

        # KeyboardInterrupt can still arrive where signal handlers cannot be installed
        # (outside the main thread, or on Windows).
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self._main(listening, handle_signals=True))
        self._port = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _thread_main(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._main(ready.set, handle_signals=False))
        except BaseException as exc:
            # Before ready: start() re-raises it. After: nobody waits, so it must be logged.
            if ready.is_set():
                logger.exception("namespace API emulator stopped on an error")
            self._thread_error = exc
        finally:
            ready.set()

    async def _main(self, on_listening: Callable[[], None], *, handle_signals: bool) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        self._loop, self._stopping = loop, stopping
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(signum, stopping.set)
        server = await asyncio.start_server(
            self._serve_connection, self.host, self._requested_port, limit=_HEADER_LIMIT
        )
        try:
            self._port = server.sockets[0].getsockname()[1]
            on_listening()
            await stopping.wait()
        finally:
            server.close()
            # Server.wait_closed() waits for open connections, and keep-alive clients
            # would hold them open forever: end them first.
            connections = list(self._connections)
            for task in connections:
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)
            await server.wait_closed()
            self._loop = self._stopping = None

    # -- HTTP -----------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # A stream callback always runs inside a task; the cast only narrows the Optional.
        task = cast(asyncio.Task[None], asyncio.current_task())
        self._connections.add(task)
        try:
            while True:
                try:
                    request = await self._read_request(reader, writer)
                except _BadRequest as exc:
                    body = {"message": str(exc)}
                    writer.write(_encode_response(exc.status, body, {}, keep_alive=False))
                    await writer.drain()
                    return
                if request is None:
                    return
                response = await self._answer(request)
                if response is None:
                    # A "drop" fault: close without a byte of answer (finally below).
                    return
                status, body, headers = response
                writer.write(_encode_response(status, body, headers, keep_alive=request.keep_alive))
                await writer.drain()
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            # The client went away mid-request; nothing to answer.
            return
        except asyncio.CancelledError:
            # Only _main cancels connections, to shut down. End normally: the stream
            # callback of Python 3.12.1 calls task.exception() on the finished task, which
            # raises (and logs a traceback) when the task ended cancelled.
            return
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Request | None:
        """Read one request; None when the client closed the connection between requests."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise _BadRequest(400, "Bad Request: incomplete request head") from exc
            return None
        except asyncio.LimitOverrunError as exc:
            raise _BadRequest(431, "Request Header Fields Too Large") from exc
        # RFC 9112 §2.2: ignore empty lines received before the request line.
        lines = head.decode("latin-1").lstrip("\r\n").split("\r\n")
        request_line = lines[0].split(" ")
        if len(request_line) != 3 or request_line[2] not in ("HTTP/1.1", "HTTP/1.0"):
            raise _BadRequest(400, "Bad Request: malformed request line")
        method, target, version = request_line
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, separator, value = line.partition(":")
            if not separator:
                raise _BadRequest(400, "Bad Request: malformed header line")
            headers[name.strip().lower()] = value.strip()
        if "transfer-encoding" in headers:
            raise _BadRequest(501, "Not Implemented: chunked request bodies are not supported")
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            raise _BadRequest(400, "Bad Request: invalid Content-Length")
        length = int(length_text)
        if length and headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(length) if length else b""
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.1":
            keep_alive = "close" not in connection
        else:
            keep_alive = "keep-alive" in connection
        path, _, query = target.partition("?")
        return _Request(method, path, headers, body, keep_alive, query)

    async def _answer(self, request: _Request) -> Response | None:
        """Answer one request, None to drop the connection. API calls (not control calls)
        are logged, and answered ``latency_ms`` after the request arrived (the store's work
        counts toward it), plus a "slow" fault's delay.

        A fixed latency is the API's time per call: added after the store's work, it was the
        latency plus the emulator's own time (parsing and deleting 1,000 IDs, serialised with
        every other call on this event loop), and a benchmark's latency floor of N calls was
        never the N x latency it states."""
        arrived = time.perf_counter()
        if request.path.startswith(_CONTROL_PREFIX):
            try:
                return self._control(request)
            except Exception:
                logger.exception("emulator failure on %s %s", request.method, request.path)
                return _EMULATOR_BUG
        try:
            response, body, effects = self._api(request)
        except Exception:
            # A bug here must not kill a keep-alive connection other requests share.
            logger.exception("emulator failure on %s %s", request.method, request.path)
            response, body, effects = _EMULATOR_BUG, None, CallEffects()
        self.store.record_call(
            method=request.method,
            path=request.path,
            status=None if effects.drop else response[0],
            ids_count=count_request_ids(body),
            fault=effects.fault,
        )
        spent = time.perf_counter() - arrived
        delay = max(self.latency_ms / 1000 - spent, 0) + effects.delay
        if delay > 0:
            await asyncio.sleep(delay)
        return None if effects.drop else response

    def _api(self, request: _Request) -> tuple[Response, Any, CallEffects]:
        """Route, authenticate, decode the body, call the store.

        Returns the response, the decoded body (for the log) and the call's transport effects.
        """
        for route in self._routes:
            if route.method != request.method:
                continue
            match = route.pattern.fullmatch(request.path)
            if match is not None:
                break
        else:
            return _NOT_FOUND, None, CallEffects()
        store = self.store
        api_key = ""
        if self.flavor == "cloud":
            # Auth before body validation and namespace lookup, as a gateway does (§4.2).
            presented = request.headers.get("x-api-key")
            rejection = store.authenticate(presented)
            if rejection is not None:
                return rejection, None, CallEffects()
            api_key = presented or ""
        body: Any = None
        if route.has_body:
            body, error = parse_json_body(request.body)
            if error is not None:
                return error, None, CallEffects()
        groups = match.groupdict()
        call = _Call(
            api_key=api_key,
            namespace=unquote(groups.get("ns") or ""),
            job_id=unquote(groups.get("job") or ""),
            body=body,
            # The last value of a repeated parameter wins, as in Express (GUESS).
            query=dict(parse_qsl(request.query, keep_blank_values=True)) if request.query else {},
        )
        # One lock hold for the call and its effects: no other thread's call in between.
        with store.lock:
            response = route.handler(store, call)
            effects = store.last_effects
        return response, body, effects

    # -- control --------------------------------------------------------------------------

    def _control(self, request: _Request) -> Response:
        """Serve ``/_emulator/...``; a ValueError/TypeError/KeyError from the store is a 400."""
        action = (request.method, request.path.removeprefix(_CONTROL_PREFIX).rstrip("/"))
        body: Any = {}
        if request.body.strip():
            body, error = parse_json_body(request.body)
            if error is not None:
                return error
        if not isinstance(body, dict):
            return 400, {"status": "failure", "message": "control bodies must be JSON objects"}, {}
        store = self.store
        try:
            match action:
                case ("GET", "state"):
                    return 200, store.state(), {}
                case ("GET", "calls"):
                    return 200, {"calls": store.calls()}, {}
                case ("POST", "calls/clear"):
                    store.clear_calls()
                case ("GET", "faults"):
                    return 200, store.faults(), {}
                case ("POST", "faults"):
                    store.set_fault_probabilities(
                        body["namespace"], body["probabilities"], **_fault_options(body)
                    )
                case ("POST", "faults/next"):
                    store.add_fault_next(
                        body["namespace"],
                        body["fault"],
                        body.get("count", 1),
                        **_fault_options(body),
                    )
                case ("POST", "faults/clear"):
                    store.clear_faults()
                case ("POST", "reset"):
                    store.reset()
                    self.latency_ms = self._startup_latency_ms
                case ("POST", "seed"):
                    seeded = store.seed(namespaces=body["namespaces"], api_key=body.get("api_key"))
                    return 200, {"status": "ok", "seeded": seeded}, {}
                case ("GET", "snapshots"):
                    return 200, {"snapshots": store.snapshots()}, {}
                case ("POST", "snapshots"):
                    return 200, _snapshot_answer(store.take_snapshot(body["name"])), {}
                case ("POST", "snapshots/restore"):
                    return 200, _snapshot_answer(store.restore_snapshot(body["name"])), {}
                case ("POST", "config"):
                    self._configure(body)
                    return 200, self._config(), {}
                case ("GET", "config"):
                    return 200, self._config(), {}
                case _:
                    return _NOT_FOUND
        except KeyError as exc:
            return 400, {"status": "failure", "message": f"missing field {exc}"}, {}
        except (ValueError, TypeError, AttributeError) as exc:
            return 400, {"status": "failure", "message": str(exc)}, {}
        return 200, {"status": "ok"}, {}

    def _configure(self, body: JSONDict) -> None:
        """Apply ``latency_ms`` and store settings; nothing changes if any value is bad."""
        settings = dict(body)
        # GET config reports the flavour; posting that document back must work.
        if settings.get("flavor", self.flavor) != self.flavor:
            raise ValueError("the flavor is fixed at start-up")
        settings.pop("flavor", None)
        latency = _latency(settings.pop("latency_ms", self.latency_ms))
        self.store.configure(settings)
        self.latency_ms = latency

    def _config(self) -> JSONDict:
        return {"flavor": self.flavor, "latency_ms": self.latency_ms, **self.store.config()}


def _latency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"latency_ms must be a non-negative integer, got {value!r}")
    return value


def _fault_options(body: JSONDict) -> JSONDict:
    """The optional fault fields of a control body, as keyword arguments for the store."""
    options: JSONDict = {"retry_after": body.get("retry_after", DEFAULT_RETRY_AFTER)}
    for name in ("endpoint", "retry_after_style", "slow_seconds"):
        if name in body:
            options[name] = body[name]
    return options


def _snapshot_answer(summary: JSONDict) -> JSONDict:
    """What POST /_emulator/snapshots and .../restore answer."""
    return {
        "status": "ok",
        "snapshot": summary["name"],
        "namespaces": summary["namespaces"],
        "items": summary["items"],
    }


def _encode_response(
    status: int, body: JSONDict, headers: dict[str, str], *, keep_alive: bool
) -> bytes:
    """Serialise one response; always with Content-Length so keep-alive clients can frame it."""
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
    ]
    head.extend(f"{name}: {value}" for name, value in headers.items())
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
