"""The operator gateway (§6.1): orders and terminations (§8.1) go to the designated ordering
function, by e-mail or API.

Two adapters behind one interface, chosen by settings:

- `EmailGateway` queues a structured order or termination e-mail in the caller's
  transaction; the relay sends it. It cannot see deliveries or confirmations: a person
  registers them from the operator's reply.
- `HttpGateway` calls the operator's API with the request's idempotency key, so a retry
  after a lost answer finds the order or termination instead of sending a second one.

Errors come in two kinds: `OperatorTransientError` (try again: timeouts, dropped
connections, 5xx, 429) and `OperatorRefusedError` (do not: the operator said no). Retries
themselves are Prefect task retries (`is_transient` is part of the onboarding tasks' retry
condition, `tasks.onboarding.prefect_tasks.retry_if_transient`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import mask_personnummer
from models.ordering import (
    ORDER_TEMPLATE,
    TERMINATION_STATES,
    TERMINATION_TEMPLATE,
    Delivery,
    DeliveryStatus,
    InvalidDelivery,
    OperatorOrder,
    OrderReceipt,
    TerminationOrder,
    TerminationReceipt,
    TerminationState,
    order_mail_context,
    termination_mail_context,
)
from models.outbox import OutboxMessage, Sender, enqueue
from telefoni.core.municipalities import MunicipalitySettings
from telefoni.core.settings import Settings, SettingsError
from telefoni.core.tenancy import sender_of

T = TypeVar("T")

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


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> T:
    """`call`, tried again while the operator asks to come back later (its Retry-After, or an
    exponential backoff; at most a minute between tries); the last failure is raised."""
    for attempt in range(1, attempts):
        try:
            return call()
        except OperatorTransientError as exc:
            wait = exc.retry_after if exc.retry_after is not None else backoff * 2 ** (attempt - 1)
            sleep(min(wait, 60.0))
    return call()


class OperatorGateway(Protocol):
    """Where orders and terminations go (§6.1). Every call is safe to repeat with the same
    order or termination."""

    def place_order(self, session: Session, order: OperatorOrder) -> OrderReceipt:
        """Hand the order over once; the same idempotency key again is a duplicate."""
        ...

    def delivery_status(self, order: OperatorOrder) -> DeliveryStatus | None:
        """Where the order stands; None when this channel cannot tell (register by form)."""
        ...

    def terminate(self, session: Session, order: TerminationOrder) -> TerminationReceipt:
        """Hand the termination over once; the same idempotency key again is a duplicate."""
        ...

    def termination_state(self, order: TerminationOrder) -> TerminationState | None:
        """Where the termination stands; None when this channel cannot tell (e-mail)."""
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
        duplicate = self._queue(
            session,
            ORDER_TEMPLATE,
            order.idempotency_key,
            order_mail_context(order, municipality=self.municipality),
        )
        return OrderReceipt(channel="email", operator_reference=None, duplicate=duplicate)

    def delivery_status(self, order: OperatorOrder) -> DeliveryStatus | None:
        return None  # the reply comes to a person, who registers the delivery by form

    def terminate(self, session: Session, order: TerminationOrder) -> TerminationReceipt:
        """Queue the termination e-mail; the relay sends it once the caller commits."""
        duplicate = self._queue(
            session,
            TERMINATION_TEMPLATE,
            order.idempotency_key,
            termination_mail_context(order, municipality=self.municipality),
        )
        return TerminationReceipt(
            channel="email", operator_reference=None, confirmed=False, duplicate=duplicate
        )

    def termination_state(self, order: TerminationOrder) -> TerminationState | None:
        return None  # the confirmation comes to a person, as a reply to the mail

    def _queue(self, session: Session, template: str, key: str, context: dict[str, Any]) -> bool:
        """Queue one mail to the ordering function; whether it was queued before."""
        already = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.template == template, OutboxMessage.business_key == key
            )
        )
        enqueue(
            session,
            template=template,
            business_key=key,
            recipient=self.ordering_address,
            context=context,
            sender=self.sender,
        )
        return already is not None

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
    """Orders and terminations through the operator's API; the idempotency key makes a retry
    harmless.

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

    def _headers(self, key: str) -> dict[str, str]:
        headers = {"Idempotency-Key": key, "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _send(
        self,
        method: str,
        url: str,
        *,
        key: str,
        what: str,
        payload: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """One call with the key; `what` names the request in errors (no personal data but
        its reference). A payload goes as JSON, never with a personnummer in it."""
        headers = self._headers(key)
        content = None
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False)
            if mask_personnummer(body) != body:  # a personnummer never leaves the register
                raise OperatorRefusedError(
                    f"{what[:1].upper()}{what[1:]} skickades inte: den innehåller ett personnummer"
                )
            content = body.encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            return self.client.request(
                method,
                url,
                content=content,
                headers=headers,
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
        what = f"beställning {order.reference}"
        response = self._send(
            "POST",
            f"{self.base_url}/orders",
            key=order.idempotency_key,
            what=what,
            payload=order.payload(),
        )
        _check(response, what)
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
            "GET",
            f"{self.base_url}/orders/{quote(order.idempotency_key, safe='')}",
            key=order.idempotency_key,
            what=what,
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

    def terminate(self, session: Session, order: TerminationOrder) -> TerminationReceipt:
        """POST the termination; 201 is a new one, 200 one the operator already had."""
        what = _termination(order)
        response = self._send(
            "POST",
            f"{self.base_url}/terminations",
            key=order.idempotency_key,
            what=what,
            payload=order.payload(),
        )
        _check(response, what)
        # The termination is handed over even if the answer is unreadable: keep the receipt.
        body = _json_dict(response, strict=False)
        if body.get("state") == "refused":  # known, and already refused: sending again won't do
            raise OperatorRefusedError(
                f"Operatören har avvisat {what}: {_refusal_reason(body)}",
                status=response.status_code,
            )
        reference = body.get("operator_reference")
        return TerminationReceipt(
            channel="http",
            operator_reference=reference if isinstance(reference, str) else None,
            confirmed=body.get("state") == "confirmed",
            duplicate=response.status_code == 200,
        )

    def termination_state(self, order: TerminationOrder) -> TerminationState:
        """GET the termination by its key: pending, confirmed or refused."""
        what = _termination(order)
        response = self._send(
            "GET",
            f"{self.base_url}/terminations/{quote(order.idempotency_key, safe='')}",
            key=order.idempotency_key,
            what=what,
        )
        if response.status_code == 404:
            raise OperatorRefusedError(
                f"Operatören känner inte till {what} (HTTP 404): den har inte tagits emot",
                status=404,
            )
        _check(response, f"frågan om {what}")
        state = _json_dict(response, strict=True).get("state")
        for known in TERMINATION_STATES:
            if state == known:
                return known
        raise OperatorRefusedError(f"Operatören gav ett okänt läge för {what}: {state!r}")

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


def _termination(order: TerminationOrder) -> str:
    return f"uppsägning {order.reference} ({order.number})"


def _refusal_reason(body: dict[str, Any]) -> str:
    """The operator's reason for a refused termination, short and masked."""
    reason = body.get("reason")
    text = " ".join(reason.split()) if isinstance(reason, str) else ""
    if len(text) > MAX_REASON:
        text = text[: MAX_REASON - 1] + "…"
    return mask_personnummer(text) or "inget skäl angivet"


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
