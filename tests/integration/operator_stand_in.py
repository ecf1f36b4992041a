"""A real HTTP server on loopback standing in for the operator's order and termination API,
with faults on call.

    api = OperatorStandIn(token="s3cret")          # or no token: no auth check
    api.start()                                    # http://127.0.0.1:<free port>
    api.configure(fault_rate=0.3, faults=ALL_FAULTS, seed=7)  # random faults, reproducible
    api.fail_next(Fault.TIMEOUT_AFTER, Fault.HTTP_500)        # these, in order, first
    api.refuse_next(422, "okänd abonnemangskod")               # a scripted refusal
    api.deliver(key, number="+46701740605", imei=..., sim=...)
    api.configure(confirm_terminations=False)                  # new terminations wait ...
    api.confirm_termination(key)                               # ... until confirmed
    api.refuse_termination(key, "numret tillhör inte kunden")  # or refused
    api.stop()

The API:
    POST /orders        header Idempotency-Key (400 without), JSON body. A new key gives 201
                        {"operator_reference": "TELIA-000001", "state": "pending"}; the same
                        key again 200 with the same answer; the same key with another body 422.
    GET /orders/{key}   404 if unknown, else {"operator_reference", "state", "delivery"}, with
                        delivery {"number", "imei", "sim"} once delivered (null before).
    POST /terminations  as POST /orders (400 without the key, 422 for another body under a
                        known key, 422 without reference, number or employee_number): 201
                        {"operator_reference": "TELIA-U000001", "state": "confirmed"} (or
                        "pending" with confirm_terminations=False); the same key again 200
                        with the termination as it stands.
    GET /terminations/{key}  404 if unknown, else {"operator_reference", "state", "reason"},
                        state "pending", "confirmed" or "refused" (reason: why, or null).
    With a token, a request without "Authorization: Bearer <token>" gets 401.

Faults strike any request, order or termination, before it is looked at (as the network or
a proxy would):
    timeout_before  stall past the client's timeout, then hang up: the request never arrived
    timeout_after   record the request, then stall: it arrived, the answer was lost
    500             answer 500, record nothing
    429             answer 429 with Retry-After: `retry_after`, record nothing
    reset           reset the connection (TCP RST), record nothing
    reset_after     record the request, then reset: it arrived, the answer was lost

Counters: `calls` (every request), `orders` (key → body, each order once),
`received_count(key)` (POSTs to /orders that carried the key, faulted ones included),
`terminations` (key → body, each termination once), `termination_count(key)` (POSTs to
/terminations that carried the key, faulted ones included), `faults` (what struck, by kind).
"""

from __future__ import annotations

import contextlib
import enum
import json
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from models.ordering import luhn_digit


class Fault(enum.StrEnum):
    TIMEOUT_BEFORE = "timeout_before"
    TIMEOUT_AFTER = "timeout_after"
    HTTP_500 = "500"
    HTTP_429 = "429"
    RESET = "reset"
    RESET_AFTER = "reset_after"


ALL_FAULTS: tuple[Fault, ...] = tuple(Fault)
REQUIRED_FIELDS = ("reference", "employee_number", "employee_name", "phone_model")
TERMINATION_FIELDS = ("reference", "number", "employee_number")


@dataclass
class StoredOrder:
    key: str
    body: dict[str, Any]
    operator_reference: str
    state: str = "pending"
    delivery: dict[str, str] | None = None
    polls: int = 0  # GETs answered "pending"


@dataclass
class StoredTermination:
    key: str
    body: dict[str, Any]
    operator_reference: str
    state: str  # "pending", "confirmed" or "refused"
    reason: str | None = None  # why it was refused


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


@dataclass
class _Script:
    faults: list[Fault] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stand_in: OperatorStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out apart: no 40 ms delayed-ACK wait

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the counters

    def do_POST(self) -> None:
        self.server.stand_in._handle(self, "POST")

    def do_GET(self) -> None:
        self.server.stand_in._handle(self, "GET")

    def answer(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client gave up waiting: its answer is lost

    def reset(self) -> None:
        """Abort the connection with a TCP RST instead of an answer."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)


class OperatorStandIn:
    """The operator's order and termination API on 127.0.0.1, recording what it receives
    (see module doc)."""

    def __init__(
        self,
        *,
        token: str | None = None,
        fault_rate: float = 0.0,
        faults: Iterable[Fault | str] = ALL_FAULTS,
        seed: int = 0,
        stall_seconds: float = 1.0,
        retry_after: str = "0",
        auto_deliver_after: int | None = None,
        confirm_terminations: bool = True,
    ) -> None:
        self.token = token
        self.stall_seconds = stall_seconds  # longer than the client's timeout
        self.retry_after = retry_after
        # None: only deliver() delivers; n: delivered when polled pending n times (0: at once)
        self.auto_deliver_after = auto_deliver_after
        self.configure(
            fault_rate=fault_rate,
            faults=faults,
            seed=seed,
            confirm_terminations=confirm_terminations,
        )
        self.calls = 0
        self.orders: dict[str, dict[str, Any]] = {}
        self.terminations: dict[str, dict[str, Any]] = {}
        self.faults: Counter[Fault] = Counter()
        self._stored: dict[str, StoredOrder] = {}
        self._ended: dict[str, StoredTermination] = {}
        self._received: Counter[str] = Counter()
        self._termination_received: Counter[str] = Counter()
        self._script = _Script()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._used: set[str] = set()
        self._server: _Server | None = None
        self._url: str | None = None
        self._thread: threading.Thread | None = None

    # --- set-up ----------------------------------------------------------------------------

    def configure(
        self,
        *,
        fault_rate: float | None = None,
        faults: Iterable[Fault | str] | None = None,
        seed: int | None = None,
        confirm_terminations: bool | None = None,
    ) -> None:
        """Random faults: each request is struck with `fault_rate`, by a kind from `faults`;
        `confirm_terminations`: a new termination is confirmed at once (True) or pending until
        `confirm_termination` (False)."""
        if confirm_terminations is not None:
            self.confirm_terminations = confirm_terminations
        if fault_rate is not None:
            if not 0.0 <= fault_rate <= 1.0:
                raise ValueError("fault_rate is a share between 0 and 1")
            self.fault_rate = fault_rate
        if faults is not None:
            self.fault_kinds = tuple(Fault(f) for f in faults)
        if seed is not None:
            self.rng = random.Random(seed)

    def fail_next(self, *faults: Fault | str) -> None:
        """The next requests meet these faults, in order (before any random one)."""
        with self._lock:
            self._script.faults.extend(Fault(f) for f in faults)

    def refuse_next(self, status: int, reason: str = "avvisad") -> None:
        """The next request that passes the faults is answered `status` with this reason."""
        with self._lock:
            self._script.refusals.append(Refusal(status, reason))

    def start(self) -> None:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stand_in = self
        host, port = self._server.server_address[:2]
        self._url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="operator-stand-in",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes stalled handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> OperatorStandIn:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL (kept after stop(): nobody listens there then)."""
        assert self._url is not None, "start() first"
        return self._url

    # --- what tests read and do ------------------------------------------------------------

    def received_count(self, key: str) -> int:
        """How many POSTs carried this Idempotency-Key (faulted ones too)."""
        with self._lock:
            return self._received[key]

    def operator_reference(self, key: str) -> str:
        with self._lock:
            return self._stored[key].operator_reference

    def state(self, key: str) -> str:
        with self._lock:
            return self._stored[key].state

    def deliver(
        self,
        key: str,
        number: str | None = None,
        imei: str | None = None,
        sim: str | None = None,
    ) -> dict[str, str]:
        """Mark the order delivered; details not given are made up (fictional but valid)."""
        with self._lock:
            order = self._stored[key]
            order.delivery = {
                "number": number or self._fresh(self._number),
                "imei": imei or self._fresh(self._imei),
                "sim": sim or self._fresh(self._iccid),
            }
            order.state = "delivered"
            return dict(order.delivery)

    def cancel(self, key: str) -> None:
        with self._lock:
            order = self._stored[key]
            order.state, order.delivery = "cancelled", None

    def termination_count(self, key: str) -> int:
        """How many POSTs to /terminations carried this Idempotency-Key (faulted ones too)."""
        with self._lock:
            return self._termination_received[key]

    def termination_reference(self, key: str) -> str:
        with self._lock:
            return self._ended[key].operator_reference

    def confirm_termination(self, key: str) -> None:
        """The operator confirms the subscription ends."""
        with self._lock:
            ended = self._ended[key]
            ended.state, ended.reason = "confirmed", None

    def refuse_termination(self, key: str, reason: str) -> None:
        """The operator refuses to end the subscription, saying why."""
        with self._lock:
            ended = self._ended[key]
            ended.state, ended.reason = "refused", reason

    # --- fictional delivery details (callers hold the lock) --------------------------------

    def _fresh(self, make: Any) -> str:
        while True:
            value: str = make()
            if value not in self._used:
                self._used.add(value)
                return value

    def _number(self) -> str:
        # 070-174 xx xx holds PTS's series of fictional mobile numbers (070-1740605…699).
        return f"+4670174{self.rng.randrange(10_000):04d}"

    def _imei(self) -> str:
        body = "35" + "".join(str(self.rng.randrange(10)) for _ in range(12))
        return body + luhn_digit(body)

    def _iccid(self) -> str:
        body = "894601" + "".join(str(self.rng.randrange(10)) for _ in range(12))
        return body + luhn_digit(body)

    # --- the server side -------------------------------------------------------------------

    def _stall(self) -> None:
        self._stopping.wait(self.stall_seconds)

    def _handle(self, request: _Handler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        key = request.headers.get("Idempotency-Key")
        path = request.path.split("?", 1)[0]
        with self._lock:
            self.calls += 1
            if method == "POST" and key:
                if path == "/terminations":
                    self._termination_received[key] += 1
                else:
                    self._received[key] += 1
            fault = self._pick_fault()
            if fault is not None:
                self.faults[fault] += 1

        if fault is Fault.TIMEOUT_BEFORE:
            self._stall()
            request.hang_up()
            return
        if fault is Fault.HTTP_500:
            request.answer(500, {"error": "internt fel hos operatören"})
            return
        if fault is Fault.HTTP_429:
            request.answer(
                429, {"error": "för många anrop"}, headers={"Retry-After": self.retry_after}
            )
            return
        if fault is Fault.RESET:
            request.reset()
            return

        if self.token is not None and request.headers.get("Authorization") != (
            f"Bearer {self.token}"
        ):
            request.answer(401, {"error": "ogiltig eller saknad token"})
            return
        with self._lock:
            refusal = self._script.refusals.pop(0) if self._script.refusals else None
        if refusal is not None:
            request.answer(refusal.status, {"error": refusal.reason})
            return

        if method == "POST" and path == "/orders":
            status, body = self._post(key, raw)
        elif method == "GET" and path.startswith("/orders/"):
            status, body = self._get(unquote(path.removeprefix("/orders/")))
        elif method == "POST" and path == "/terminations":
            status, body = self._post_termination(key, raw)
        elif method == "GET" and path.startswith("/terminations/"):
            status, body = self._get_termination(unquote(path.removeprefix("/terminations/")))
        else:
            status, body = 404, {"error": "okänd adress"}

        if fault is Fault.TIMEOUT_AFTER:
            self._stall()
            request.answer(status, body)  # too late: the client has given up
            return
        if fault is Fault.RESET_AFTER:
            request.reset()
            return
        request.answer(status, body)

    def _pick_fault(self) -> Fault | None:
        if self._script.faults:
            return self._script.faults.pop(0)
        if self.fault_rate and self.rng.random() < self.fault_rate:
            return self.rng.choice(self.fault_kinds)
        return None

    @staticmethod
    def _read(key: str | None, raw: bytes, required: tuple[str, ...]) -> tuple[int, dict[str, Any]]:
        """The request's body (200), or the answer to a request that is not one (400, 422)."""
        if not key:
            return 400, {"error": "Idempotency-Key saknas"}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "ogiltig JSON"}
        if not isinstance(body, dict):
            return 400, {"error": "anropet ska vara ett JSON-objekt"}
        missing = [f for f in required if not body.get(f)]
        if missing:
            return 422, {"error": "fält saknas: " + ", ".join(missing)}
        return 200, body

    def _post(self, key: str | None, raw: bytes) -> tuple[int, dict[str, Any]]:
        status, body = self._read(key, raw, REQUIRED_FIELDS)
        if status != 200 or key is None:
            return status, body
        if body.get("need_category") not in (1, 2, 3):
            return 422, {"error": "ogiltig behovskategori"}
        with self._lock:
            stored = self._stored.get(key)
            if stored is not None:
                if stored.body != body:
                    return 422, {"error": "nyckeln är redan använd för en annan beställning"}
                return 200, self._view(stored, with_delivery=False)
            stored = StoredOrder(
                key=key, body=body, operator_reference=f"TELIA-{len(self._stored) + 1:06d}"
            )
            self._stored[key] = stored
            self.orders[key] = body
            if self.auto_deliver_after == 0:
                self._auto_deliver(stored)
            return 201, self._view(stored, with_delivery=False)

    def _get(self, key: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            stored = self._stored.get(key)
            if stored is None:
                return 404, {"error": "okänd beställning"}
            if stored.state == "pending" and self.auto_deliver_after is not None:
                if stored.polls >= self.auto_deliver_after:
                    self._auto_deliver(stored)
                else:
                    stored.polls += 1
            return 200, self._view(stored, with_delivery=True)

    def _post_termination(self, key: str | None, raw: bytes) -> tuple[int, dict[str, Any]]:
        status, body = self._read(key, raw, TERMINATION_FIELDS)
        if status != 200 or key is None:
            return status, body
        with self._lock:
            ended = self._ended.get(key)
            if ended is not None:
                if ended.body != body:
                    return 422, {"error": "nyckeln är redan använd för en annan uppsägning"}
                return 200, self._termination_view(ended)
            ended = StoredTermination(
                key=key,
                body=body,
                operator_reference=f"TELIA-U{len(self._ended) + 1:06d}",
                state="confirmed" if self.confirm_terminations else "pending",
            )
            self._ended[key] = ended
            self.terminations[key] = body
            return 201, self._termination_view(ended)

    def _get_termination(self, key: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            ended = self._ended.get(key)
            if ended is None:
                return 404, {"error": "okänd uppsägning"}
            return 200, self._termination_view(ended)

    @staticmethod
    def _termination_view(ended: StoredTermination) -> dict[str, Any]:
        return {
            "operator_reference": ended.operator_reference,
            "state": ended.state,
            "reason": ended.reason,
        }

    def _auto_deliver(self, stored: StoredOrder) -> None:
        stored.state = "delivered"
        stored.delivery = {
            "number": self._fresh(self._number),
            "imei": self._fresh(self._imei),
            "sim": self._fresh(self._iccid),
        }

    @staticmethod
    def _view(stored: StoredOrder, *, with_delivery: bool) -> dict[str, Any]:
        view: dict[str, Any] = {
            "operator_reference": stored.operator_reference,
            "state": stored.state,
        }
        if with_delivery:
            view["delivery"] = dict(stored.delivery) if stored.delivery else None
        return view
