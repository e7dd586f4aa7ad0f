"""A tiny HTTP helper over Locust's FastHttpSession: template names, JSON, bearer auth, error codes.

Every call is named by its path template (`POST /api/shipping/assignments/{id}/accept`) so
thousands of ids aggregate into one stats row, and carries its sample fields (flow, intended send
time, idempotency key, created id, error code) in the request event's `context`, which the sample
writer reads: the response body is parsed once, here, and never again by a listener.
"""

from __future__ import annotations

import gevent
import gevent.ssl
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment

import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from locustfiles.common.profile import Profile, Step, load_profile

# The error_code of a 401 answered to an expired token when the user logged in again and the
# request was sent once more: the row stays in requests.csv (it happened), but the retry is the
# request's outcome, so reports/measurement.py (failed_mask) does not count this row as failed.
AUTH_RENEWED = "AUTH_RENEWED"


class Credentials(Protocol):
    """A user who can authenticate: a bearer token now, and a fresh one after a 401."""

    def bearer(self, session: FastHttpSession) -> str: ...

    def can_renew(self) -> bool: ...

    def renew(self, session: FastHttpSession, stale: str) -> str: ...


def make_session(
    environment: Environment,
    host: str,
    *,
    connections: int,
    timeout_s: float,
    tls_verify: bool = True,
    ca_bundle: str | None = None,
) -> FastHttpSession:
    """A session whose requests fire `environment.events.request`; no retries (they would hide errors).

    Locust's FastHttpSession skips certificate checks unless told (`insecure=True` by default):
    here the target's certificate is verified unless the run said `--insecure`.
    """
    factory = None
    if tls_verify and ca_bundle:

        def factory() -> gevent.ssl.SSLContext:
            return gevent.ssl.create_default_context(cafile=ca_bundle)

    return FastHttpSession(
        host,
        environment.events.request,
        user=None,
        insecure=not tls_verify,
        ssl_context_factory=factory,
        concurrency=max(connections, 1),
        network_timeout=timeout_s,
        connection_timeout=timeout_s,
        max_retries=0,
    )


_UNREAD: Any = object()


@dataclass
class Result:
    """What a flow needs from a response: `id` is what the step's profile read as the created id."""

    status: int
    body: Any
    code: str = ""
    replayed: bool = False
    retry_after: float | None = None
    created: str | None = _UNREAD

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def id(self) -> str | None:
        if self.created is not _UNREAD:
            return self.created
        return str(self.body["id"]) if isinstance(self.body, dict) and self.body.get("id") else None


@dataclass
class Call:
    """One flow's sample fields; the intended send time goes on its first request only."""

    flow: str
    ts_intended: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def context(self, **more: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {"flow": self.flow, **self.extra, **more}
        if self.ts_intended is not None:
            ctx["ts_intended"] = self.ts_intended
            self.ts_intended = None
        return ctx

    def sub(self, flow: str) -> Call:
        """The same arrival under another flow tag (prerequisites); shares the first-request mark."""
        return _Shared(self, flow)


class _Shared(Call):
    def __init__(self, parent: Call, flow: str) -> None:
        super().__init__(flow, None, parent.extra)
        self.parent = parent

    def context(self, **more: Any) -> dict[str, Any]:
        ctx = self.parent.context(**more)
        ctx["flow"] = self.flow
        return ctx


def _error_code(status: int, body: Any, exception: BaseException | None, profile: Profile) -> str:
    if status == 0:
        text = f"{type(exception).__name__} {exception}".lower()
        return "TIMEOUT" if "timeout" in text or "timed out" in text else "CONNECTION_ERROR"
    if status >= 400 and body is not None:
        return profile.error_code(body)
    return ""


def default_profile() -> Profile:
    """API.md's profile (what a call without one speaks)."""
    return load_profile(None)


def send(
    session: FastHttpSession,
    call: Call,
    profile: Profile,
    step: Step,
    args: Mapping[str, Any] | None = None,
    *,
    auth: Credentials | None = None,
    idempotency_key: str | None = None,
    expected: Collection[int] = (),
    records_id: bool = False,
) -> Result:
    """One profile step: its request named `step.name`, its answer read by the step and the profile."""
    args = args or {}
    return request(
        session,
        call,
        step.method,
        step.path,
        auth=auth,
        params=args,
        query=step.query,
        json_body=step.body(args) if step.body is not None else None,
        idempotency_key=idempotency_key,
        expected=expected,
        records_id=records_id,
        name=step.name,
        headers=step.headers,
        read_id=step.read_id,
        profile=profile,
    )


def request(
    session: FastHttpSession,
    call: Call,
    method: str,
    template: str,
    *,
    token: str | None = None,
    auth: Credentials | None = None,
    params: Mapping[str, str] | None = None,
    query: str = "",
    json_body: Any = None,
    idempotency_key: str | None = None,
    expected: Collection[int] = (),
    records_id: bool = False,
    renew_on_401: bool = True,
    name: str | None = None,
    headers: Mapping[str, str] | None = None,
    read_id: Callable[[Any], str | None] | None = None,
    profile: Profile | None = None,
) -> Result:
    """Send one request named `name` (default `METHOD template`); statuses in `expected` count as
    success in Locust's stats. `profile` (default API.md's) says how a token and a key travel and
    how an error code is read; `read_id` how the created id is (default: the answer's `id`).

    `created_id` is recorded for a 201, and for any 2xx when `records_id` (a capture answers 200).
    With `auth` (a user) the token is the user's; a 401 makes that user log in again (once, shared
    by every greenlet that saw the same stale token) and the request is sent once more.
    """
    profile = profile or default_profile()
    if auth is not None:
        token = auth.bearer(session)
    sent: dict[str, str] = dict(headers) if headers else {}
    if token:
        header, value = profile.auth_header(token)
        sent[header] = value
    if idempotency_key:
        sent[profile.idempotency_header] = idempotency_key
    url = (template.format_map(params) if params else template) + (f"?{query}" if query else "")
    context = call.context(idempotency_key=idempotency_key or "")
    with session.request(
        method,
        url,
        name=name or f"{method} {template}",
        headers=sent,
        json=json_body,
        catch_response=True,
        context=context,
    ) as response:
        status = int(getattr(response, "status_code", 0) or 0)
        try:
            body = json.loads(response.content) if status and response.content else None
        except Exception:
            body = None
        code = _error_code(status, body, getattr(response, "error", None), profile)
        result = Result(
            status,
            body,
            code,
            replayed=_replayed(response, profile.replayed_header),
            retry_after=_retry_after(response),
            created=(read_id or _read_id)(body) if status else None,
        )
        renew = status == 401 and renew_on_401 and auth is not None and bool(token) and auth.can_renew()
        # The context dict is the one the request event will carry: fill in what the body told us.
        context["error_code"] = AUTH_RENEWED if renew else code
        if result.id and (status == 201 or (records_id and result.ok)):
            context["created_id"] = result.id
        if result.ok or status in expected:
            response.success()
        else:
            response.failure(f"{status} {context['error_code']}".strip())
    if renew:
        assert auth is not None and token is not None
        fresh = auth.renew(session, token)
        if fresh and fresh != token:
            return request(
                session,
                call,
                method,
                template,
                auth=auth,
                params=params,
                query=query,
                json_body=json_body,
                idempotency_key=idempotency_key,
                expected=expected,
                records_id=records_id,
                renew_on_401=False,
                name=name,
                headers=headers,
                read_id=read_id,
                profile=profile,
            )
    return result


def _read_id(body: Any) -> str | None:
    return str(body["id"]) if isinstance(body, dict) and body.get("id") else None


# A careful client's retries of a write that carries an Idempotency-Key (docs/contracts.md).
RETRY_ATTEMPTS = 3
RETRY_AFTER_CAP_S = 2.0
RETRY_BACKOFF_S = (0.25, 0.5)


def indeterminate(result: Result) -> bool:
    """The write may or may not have happened, and asking again with the same key is safe."""
    if result.status == 0:
        return result.code in ("TIMEOUT", "CONNECTION_ERROR")
    if result.status == 503:
        return result.retry_after is not None
    return result.status == 409 and result.code == "IDEMPOTENCY_KEY_IN_PROGRESS"


def retry_wait(result: Result, attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: the server's Retry-After (capped), else a short backoff."""
    if result.retry_after is not None:
        return min(max(result.retry_after, 0.0), RETRY_AFTER_CAP_S)
    return RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S)) - 1]


def request_retrying(
    session: FastHttpSession,
    call: Call,
    method: str,
    template: str,
    *,
    idempotency_key: str,
    budget_s: float,
    attempts: int = RETRY_ATTEMPTS,
    **kwargs: Any,
) -> Result:
    """`request`, repeated with the same Idempotency-Key while the outcome is indeterminate.

    At most `attempts` attempts, none started later than `budget_s` after the first (the scenario's
    request timeout): each attempt is its own sample, and only the first carries `ts_intended`.
    """
    return _retrying(
        lambda: request(session, call, method, template, idempotency_key=idempotency_key, **kwargs),
        budget_s,
        attempts,
    )


def send_retrying(
    session: FastHttpSession,
    call: Call,
    profile: Profile,
    step: Step,
    args: Mapping[str, Any],
    *,
    idempotency_key: str,
    budget_s: float,
    attempts: int = RETRY_ATTEMPTS,
    **kwargs: Any,
) -> Result:
    """`send`, retried as `request_retrying` retries."""
    return _retrying(
        lambda: send(session, call, profile, step, args, idempotency_key=idempotency_key, **kwargs),
        budget_s,
        attempts,
    )


def _retrying(attempt_once: Callable[[], Result], budget_s: float, attempts: int) -> Result:
    first = time.monotonic()
    for attempt in range(1, attempts + 1):
        result = attempt_once()
        if attempt == attempts or not indeterminate(result):
            return result
        wait = retry_wait(result, attempt)
        if time.monotonic() + wait - first >= budget_s:
            return result
        gevent.sleep(wait)
    raise AssertionError("unreachable")


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None)
    try:
        raw = headers.get("Retry-After") if headers is not None else None
        return float(raw) if raw not in (None, "") else None
    except (AttributeError, TypeError, ValueError):
        return None


def _replayed(response: Any, header: str) -> bool:
    headers = getattr(response, "headers", None)
    try:
        return headers is not None and str(headers.get(header, "")).lower() == "true"
    except AttributeError:
        return False
