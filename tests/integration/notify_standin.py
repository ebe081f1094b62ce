"""A small GOV.UK Notify stand-in on 127.0.0.1 that speaks Notify's documented API (the parts civicvoice uses).

It checks the JWT the real client sends exactly as Notify does (HS256, ``iss`` = the service id, signed with the
API key's secret, ``iat`` within 30 seconds), answers `POST /v2/notifications/sms` and `/email` with Notify's
201 body or its error bodies (400 BadRequestError, 403 AuthError, 429 RateLimitError, enforcing Notify's limit of
``limit`` requests in any ``period`` seconds), records every message, and posts Notify's delivery-receipt and
received-text callbacks back to the app with the callback bearer token.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt


@dataclass
class SentMessage:
    id: str
    kind: str  # "sms" or "email"
    to: str
    template_id: str
    personalisation: dict[str, Any]
    reference: str | None
    at: float


@dataclass
class NotifyStandIn:
    service_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    secret: str = field(default_factory=lambda: str(uuid.uuid4()))
    sms_template_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    email_template_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    limit: int = 3000
    period: float = 60.0
    # Each request takes at least this long to answer, like a real API over a network.
    latency: float = 0.0
    messages: list[SentMessage] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    accepted_at: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_key(self) -> str:
        """A key as Notify shows it: name, service id, secret."""
        return f"civicvoice_test-{self.service_id}-{self.secret}"

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> NotifyStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                status, body = standin._handle(self)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="notify-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- the API ---------------------------------------------------------------------------------------

    def _error(self, status: int, error: str, message: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.refused.append((status, error))
        return status, {"status_code": status, "errors": [{"error": error, "message": message}]}

    def _check_token(self, header: str | None) -> str | None:
        """Notify's checks, in its order; the problem, or None for a good token."""
        if not header or not header.startswith("Bearer "):
            return "Unauthorized: authentication token must be provided"
        token = header[len("Bearer ") :]
        try:
            unverified = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return "Invalid token: signature, api token not found"
        if unverified.get("alg") != "HS256" or unverified.get("typ") != "JWT":
            return "Invalid token: algorithm used is not HS256"
        if claims.get("iss") != self.service_id:
            return "Invalid token: service not found"
        try:
            jwt.decode(token, key=self.secret, algorithms=["HS256"], options={"verify_iat": False})
        except jwt.PyJWTError:
            return "Invalid token: signature, api token not found"
        issued = claims.get("iat")
        if not isinstance(issued, int) or abs(time.time() - issued) > 30:
            return "Error: Your system clock must be accurate to within 30 seconds"
        return None

    def _handle(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        started = time.monotonic()
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        try:
            kind = {"/v2/notifications/sms": "sms", "/v2/notifications/email": "email"}.get(request.path)
            if kind is None:
                return self._error(404, "BadRequestError", "Not found")
            problem = self._check_token(request.headers.get("Authorization"))
            if problem is not None:
                return self._error(403, "AuthError", problem)
            try:
                body = json.loads(raw)
            except ValueError:
                return self._error(400, "BadRequestError", "Invalid JSON supplied in POST data")
            to_key = "phone_number" if kind == "sms" else "email_address"
            template = self.sms_template_id if kind == "sms" else self.email_template_id
            if not isinstance(body, dict) or not isinstance(body.get(to_key), str):
                return self._error(400, "ValidationError", f"{to_key} is a required property")
            if body.get("template_id") != template:
                return self._error(400, "BadRequestError", "Template not found")
            personalisation = body.get("personalisation") or {}
            if not isinstance(personalisation, dict):
                return self._error(400, "ValidationError", "personalisation is not of type object")
            now = time.monotonic()
            with self._lock:
                while self.accepted_at and self.accepted_at[0] <= now - self.period:
                    self.accepted_at.popleft()
                if len(self.accepted_at) >= self.limit:
                    limited = True
                else:
                    limited = False
                    self.accepted_at.append(now)
                    message = SentMessage(
                        id=str(uuid.uuid4()),
                        kind=kind,
                        to=body[to_key],
                        template_id=template,
                        personalisation=personalisation,
                        reference=body.get("reference"),
                        at=time.time(),
                    )
                    self.messages.append(message)
            if limited:
                return self._error(
                    429,
                    "RateLimitError",
                    f"Exceeded rate limit for key type LIVE of {self.limit} requests per 60 seconds",
                )
            content = {"body": json.dumps(personalisation), "from_number" if kind == "sms" else "subject": "civicvoice"}
            return 201, {
                "id": message.id,
                "reference": message.reference,
                "content": content,
                "uri": f"{self.url}/v2/notifications/{message.id}",
                "template": {"id": template, "version": 1, "uri": f"{self.url}/v2/templates/{template}"},
            }
        finally:
            spent = time.monotonic() - started
            if self.latency > spent:
                time.sleep(self.latency - spent)

    # --- callbacks to the app ----------------------------------------------------------------------------

    def receipt_for(self, message: SentMessage, status: str) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "id": message.id,
            "reference": message.reference,
            "to": message.to,
            "status": status,
            "created_at": now,
            "completed_at": now,
            "sent_at": now,
            "notification_type": message.kind,
        }

    @staticmethod
    def inbound(source_number: str, text: str) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "source_number": source_number,
            "destination_number": "07700900000",
            "message": text,
            "date_received": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    @staticmethod
    def post(url: str, payload: Any, token: str | None) -> tuple[int, Any]:
        """POST a callback as Notify does (JSON, the bearer token); the status and the JSON answer."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - 127.0.0.1
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - a 127.0.0.1 test server
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b"null")

    def max_in_any_window(self, window: float | None = None) -> int:
        """The most messages accepted in any ``window`` seconds (default: Notify's period)."""
        span = window or self.period
        times = sorted(m.at for m in self.messages)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while times[start] <= moment - span:
                start += 1
            best = max(best, end - start + 1)
        return best
