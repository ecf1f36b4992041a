"""The operator gateway (§6.1): orders go to the designated ordering function, by e-mail or API.

Two adapters behind one interface, chosen by settings:

- `EmailGateway` queues a structured order e-mail in the caller's transaction; the relay
  sends it. It cannot see deliveries: a person registers them from the operator's reply.
- `HttpGateway` calls the operator's order API with the order's idempotency key, so a retry
  after a lost answer finds the order instead of placing a second one.

Errors come in two kinds: `OperatorTransientError` (try again: timeouts, dropped
connections, 5xx, 429) and `OperatorRefusedError` (do not: the operator said no). Retries
themselves are Prefect task retries (`is_transient` is part of the onboarding tasks' retry
condition, `tasks.onboarding.prefect_tasks.retry_if_transient`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import mask_personnummer
from models.ordering import (
    ORDER_TEMPLATE,
    Delivery,
    DeliveryStatus,
    InvalidDelivery,
    OperatorOrder,
    OrderReceipt,
    order_mail_context,
)
from models.outbox import OutboxMessage, Sender, enqueue
from telefoni.core.municipalities import MunicipalitySettings
from telefoni.core.settings import Settings, SettingsError
from telefoni.core.tenancy import sender_of

MAX_REASON = 300  # characters of the operator's own explanation kept in an error


class OperatorTransientError(Exception):
    """The operator could not be reached or asked us to come back later: retry."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, from the Retry-After header


class OperatorRefusedError(Exception):
    """The operator refused the request; retrying the same request will not help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def is_transient(exc: BaseException) -> bool:
    """Whether a failure from the gateway is worth another attempt."""
    return isinstance(exc, OperatorTransientError)


class OperatorGateway(Protocol):
    """Where orders go (§6.1). Both calls are safe to repeat with the same order."""

    def place_order(self, session: Session, order: OperatorOrder) -> OrderReceipt:
        """Hand the order over once; the same idempotency key again is a duplicate."""
        ...

    def delivery_status(self, order: OperatorOrder) -> DeliveryStatus | None:
        """Where the order stands; None when this channel cannot tell (register by form)."""
        ...

    def close(self) -> None: ...


class EmailGateway:
    """Orders as e-mail to the ordering function's address, queued in the caller's session."""

    def __init__(self, sender: Sender, ordering_address: str, *, municipality: str = "") -> None:
        self.sender = sender
        self.ordering_address = ordering_address
        self.municipality = municipality

    def place_order(self, session: Session, order: OperatorOrder) -> OrderReceipt:
        """Queue the order e-mail; the relay sends it once the caller commits."""
        already = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.template == ORDER_TEMPLATE,
                OutboxMessage.business_key == order.idempotency_key,
            )
        )
        enqueue(
            session,
            template=ORDER_TEMPLATE,
            business_key=order.idempotency_key,
            recipient=self.ordering_address,
            context=order_mail_context(order, municipality=self.municipality),
            sender=self.sender,
        )
        return OrderReceipt(channel="email", operator_reference=None, duplicate=already is not None)

    def delivery_status(self, order: OperatorOrder) -> DeliveryStatus | None:
        return None  # the reply comes to a person, who registers the delivery by form

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _reason(response: httpx.Response) -> str:
    """The operator's own explanation, short and with any personnummer masked."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        for key in ("error", "message", "detail", "reason"):
            if isinstance(body.get(key), str) and body[key].strip():
                text = body[key]
                break
        else:
            text = json.dumps(body, ensure_ascii=False)
    else:
        text = response.text
    text = " ".join(text.split()) or response.reason_phrase or "inget skäl angivet"
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 1] + "…"
    return mask_personnummer(text)


def _check(response: httpx.Response, what: str) -> None:
    """Raise the right error for anything but a 2xx answer."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in (408, 429) or status >= 500:
        raise OperatorTransientError(
            f"Operatören kunde inte ta emot {what} just nu (HTTP {status}): {_reason(response)}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    if status == 401 or status == 403:
        raise OperatorRefusedError(
            f"Operatörens API nekade åtkomst för {what} (HTTP {status}): {_reason(response)}. "
            "Kontrollera TELEFONI_OPERATOR_API_TOKEN.",
            status=status,
        )
    raise OperatorRefusedError(
        f"Operatören avvisade {what} (HTTP {status}): {_reason(response)}", status=status
    )


class HttpGateway:
    """Orders through the operator's order API; the idempotency key makes a retry harmless.

    The gateway closes the HTTP client it made itself; a client passed in stays the caller's.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None,
        timeout: float,
        client: httpx.Client | None = None,
    ) -> None:
        if token is not None and not (token.isascii() and token.isprintable()):
            raise SettingsError("TELEFONI_OPERATOR_API_TOKEN must be printable ASCII")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._owns_client = client is None
        self.client = client if client is not None else httpx.Client(timeout=timeout)

    def _headers(self, order: OperatorOrder) -> dict[str, str]:
        headers = {"Idempotency-Key": order.idempotency_key, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _send(
        self,
        method: str,
        url: str,
        order: OperatorOrder,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        what = f"beställning {order.reference}"
        try:
            return self.client.request(
                method,
                url,
                content=content,
                headers=self._headers(order) | (headers or {}),
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise OperatorTransientError(
                f"Operatören svarade inte i tid på {what} (efter {self.timeout:g} s)"
            ) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as exc:
            raise OperatorTransientError(
                f"Förbindelsen med operatören bröts för {what} ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:  # a bad URL or request: trying again will not help
            raise OperatorRefusedError(
                f"Anropet till operatören för {what} gick inte att göra ({type(exc).__name__}); "
                "kontrollera TELEFONI_OPERATOR_API_URL"
            ) from exc

    def place_order(self, session: Session, order: OperatorOrder) -> OrderReceipt:
        """POST the order; 201 is a new order, 200 one the operator already had."""
        payload = order.payload()
        body = json.dumps(payload, ensure_ascii=False)
        if mask_personnummer(body) != body:  # a personnummer never leaves the register
            raise OperatorRefusedError(
                f"Beställning {order.reference} skickades inte: den innehåller ett personnummer"
            )
        response = self._send(
            "POST",
            f"{self.base_url}/orders",
            order,
            content=body.encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        _check(response, f"beställning {order.reference}")
        # The order is placed even if the answer is unreadable: keep the receipt, not an error.
        reference = _json_dict(response, strict=False).get("operator_reference")
        return OrderReceipt(
            channel="http",
            operator_reference=reference if isinstance(reference, str) else None,
            duplicate=response.status_code == 200,
        )

    def delivery_status(self, order: OperatorOrder) -> DeliveryStatus:
        """GET the order by its key: pending, cancelled, or delivered with its details."""
        what = f"beställning {order.reference}"
        response = self._send(
            "GET", f"{self.base_url}/orders/{quote(order.idempotency_key, safe='')}", order
        )
        if response.status_code == 404:
            raise OperatorRefusedError(
                f"Operatören känner inte till {what} (HTTP 404): den har inte tagits emot",
                status=404,
            )
        _check(response, f"frågan om {what}")
        body = _json_dict(response, strict=True)
        state = body.get("state")
        if state not in ("pending", "delivered", "cancelled"):
            raise OperatorRefusedError(f"Operatören gav ett okänt läge för {what}: {state!r}")
        if state != "delivered":
            return DeliveryStatus(state=state)
        details = body.get("delivery")
        if not isinstance(details, dict):
            raise OperatorRefusedError(f"Operatören angav levererad men inga uppgifter för {what}")
        try:
            delivery = Delivery.parse(
                number=str(details.get("number", "")),
                imei=str(details.get("imei", "")),
                sim=str(details.get("sim", "")),
            )
        except InvalidDelivery as exc:
            raise OperatorRefusedError(
                f"Operatörens leveransuppgifter för {what} går inte att registrera: {exc}"
            ) from None
        return DeliveryStatus(state="delivered", delivery=delivery)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _json_dict(response: httpx.Response, *, strict: bool) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        if not strict:
            return {}
        # Often a proxy's error page in front of the API: worth another try later.
        raise OperatorTransientError(
            f"Operatören svarade med något som inte är JSON (HTTP {response.status_code})"
        ) from None
    return body if isinstance(body, dict) else {}


def gateway_from(
    settings: Settings, municipality: MunicipalitySettings | None = None
) -> OperatorGateway:
    """The gateway the settings ask for, for `municipality`'s orders (None: the only one);
    close it when done (`with closing(...)`). By e-mail, the orders go to that municipality's
    ordering function, from and signed by it."""
    if settings.operator_gateway == "http":
        url = (settings.operator_api_url or "").strip()
        if not url:
            raise SettingsError(
                "TELEFONI_OPERATOR_API_URL must be set when TELEFONI_OPERATOR_GATEWAY=http"
            )
        if not url.startswith(("http://", "https://")):
            raise SettingsError("TELEFONI_OPERATOR_API_URL must start with http:// or https://")
        token = settings.operator_api_token
        return HttpGateway(
            url,
            token.get_secret_value() if token is not None else None,
            settings.operator_timeout_seconds,
        )
    m = municipality or settings.kommun(None)
    return EmailGateway(sender_of(m), str(m.ordering_function_email), municipality=m.name)
