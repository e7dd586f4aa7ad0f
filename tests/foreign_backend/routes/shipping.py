"""Courier jobs (shipping assignments): open, list, accept, pick up, deliver.

Accept takes the job's row with FOR UPDATE NOWAIT (a concurrent accept holding it: 409
ASSIGNMENT_LOCKED) and updates only an OPEN job. The `double_accept` bug reads the job, waits the
race window and updates it unconditionally: two agents can both be told they won.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import errors as pgerr

from tests.foreign_backend.db import Conn, all_rows, one
from tests.foreign_backend.errors import ApiError, forbidden, invalid, not_found
from tests.foreign_backend.routes.orders import set_state_if
from tests.foreign_backend.views import ASSIGNMENT_FIELDS
from tests.foreign_backend.web import Reply, Request, parse_uuid

if TYPE_CHECKING:
    from tests.foreign_backend.app import App

ASSIGNABLE = frozenset({"PENDING", "CONFIRMED"})
JOB_STATES = ("OPEN", "ACCEPTED", "PICKED_UP", "DELIVERED", "CANCELLED")


def create(app: App, req: Request) -> Reply:
    body = req.json()
    order_id = parse_uuid(body.get("orderId"), "orderId")
    raw = body.get("candidateAgentIds")
    if raw is not None and (not isinstance(raw, list) or len(raw) > 1000):
        raise invalid("candidateAgentIds", "must be a list of at most 1000 agent ids")
    candidates = [parse_uuid(c, "candidateAgentIds") for c in raw] if raw is not None else None
    with app.db.connection() as conn:
        order = one(conn, "SELECT seller_id, state, ship_zip FROM purchase_orders WHERE id = %s", (order_id,))
        if order is None:
            raise not_found("Order")
        if req.user.role == "SELLER" and str(order["seller_id"]) != req.user.user_id:
            raise forbidden("A seller opens assignments only for its own orders")
        if order["state"] not in ASSIGNABLE:
            raise ApiError(400, "INVALID_ORDER_STATE", f"Cannot ship an order in status {order['state']}")
        if candidates is not None:
            known = one(conn, "SELECT count(*) AS n FROM couriers WHERE id = ANY(%s::uuid[])", (candidates,))
            if known is None or int(known["n"]) != len(set(candidates)):
                raise ApiError(400, "UNKNOWN_AGENT", "A candidate agent does not exist")
        else:
            # Without explicit candidates: the couriers serving the order's zip (anyone if none does).
            rows = all_rows(
                conn, "SELECT id FROM couriers WHERE active AND %s = ANY(zips)", (order["ship_zip"],)
            )
            candidates = [str(r["id"]) for r in rows] or None
        row = one(
            conn,
            "INSERT INTO courier_jobs (order_id, candidates) VALUES (%s, %s::uuid[])"
            f" RETURNING {ASSIGNMENT_FIELDS}",
            (order_id, candidates),
        )
    assert row is not None
    return Reply(201, dict(row))


def _courier(req: Request) -> str:
    if req.user.agent_id is None:
        raise forbidden("Only delivery agents may do this")
    return req.user.agent_id


def list_jobs(app: App, req: Request) -> Reply:
    courier = _courier(req)
    status = req.query.get("status", "OPEN")
    if status not in JOB_STATES:
        raise invalid("status", f"must be one of {', '.join(JOB_STATES)}")
    with app.db.connection() as conn:
        if status == "OPEN":
            rows = all_rows(
                conn,
                f"""SELECT {ASSIGNMENT_FIELDS} FROM courier_jobs
                    WHERE state = 'OPEN' AND courier_id IS NULL
                      AND (candidates IS NULL OR %(c)s::uuid = ANY(candidates))
                    ORDER BY created_at LIMIT 50""",
                {"c": courier},
            )
        else:
            rows = all_rows(
                conn,
                f"SELECT {ASSIGNMENT_FIELDS} FROM courier_jobs WHERE courier_id = %s AND state = %s"
                " ORDER BY created_at LIMIT 50",
                (courier, status),
            )
    return Reply(200, [dict(r) for r in rows])


def _check_open_for(job: dict[str, Any], courier: str) -> None:
    candidates = job["candidateAgentIds"]
    if candidates is not None and courier not in {str(c) for c in candidates}:
        raise forbidden("This assignment is offered to other agents")
    if job["agentId"] is not None or job["status"] != "OPEN":
        raise ApiError(409, "ASSIGNMENT_TAKEN", "This assignment was already accepted")


def _mark_accepted(conn: Conn, job_id: str, courier: str, *, only_if_open: bool) -> dict[str, Any] | None:
    condition = " AND state = 'OPEN' AND courier_id IS NULL" if only_if_open else ""
    row = one(
        conn,
        f"""WITH u AS (
              UPDATE courier_jobs SET courier_id = %(c)s, state = 'ACCEPTED', accepted_at = now()
              WHERE id = %(id)s{condition} RETURNING *),
            e AS (INSERT INTO courier_job_events (job_id, courier_id, event)
                  SELECT id, courier_id, 'ACCEPTED' FROM u)
            SELECT {ASSIGNMENT_FIELDS} FROM u""",
        {"id": job_id, "c": courier},
    )
    return dict(row) if row is not None else None


def accept(app: App, req: Request) -> Reply:
    courier = _courier(req)
    job_id = req.uuid_param("id")
    if app.settings.has_bug("double_accept"):
        with app.db.connection() as conn:
            job = one(conn, f"SELECT {ASSIGNMENT_FIELDS} FROM courier_jobs WHERE id = %s", (job_id,))
            if job is None:
                raise not_found("Assignment")
            _check_open_for(dict(job), courier)
            app.db.race_window()
            accepted = _mark_accepted(conn, job_id, courier, only_if_open=False)
    else:
        try:
            with app.db.transaction() as conn:
                job = one(
                    conn,
                    f"SELECT {ASSIGNMENT_FIELDS} FROM courier_jobs WHERE id = %s FOR UPDATE NOWAIT",
                    (job_id,),
                )
                if job is None:
                    raise not_found("Assignment")
                _check_open_for(dict(job), courier)
                app.db.race_window()
                accepted = _mark_accepted(conn, job_id, courier, only_if_open=True)
        except pgerr.LockNotAvailable:
            raise ApiError(
                409, "ASSIGNMENT_LOCKED", "This assignment is being processed by another request"
            ) from None
    if accepted is None:
        raise ApiError(409, "ASSIGNMENT_TAKEN", "This assignment was already accepted")
    return Reply(200, accepted)


def _advance(app: App, req: Request, *, current: str, target: str, order_from: str, order_to: str) -> Reply:
    """Job `current` -> `target` and its order `order_from` -> `order_to`, in one transaction."""
    courier = _courier(req)
    job_id = req.uuid_param("id")
    stamp = "picked_up_at" if target == "PICKED_UP" else "delivered_at"
    with app.db.transaction() as conn:
        job = one(
            conn, "SELECT order_id, courier_id, state FROM courier_jobs WHERE id = %s FOR UPDATE", (job_id,)
        )
        if job is None:
            raise not_found("Assignment")
        if str(job["courier_id"]) != courier:
            raise forbidden("Only the accepting agent may do this")
        if job["state"] != current:
            raise ApiError(
                400, "INVALID_ASSIGNMENT_STATE", f"Assignment is {job['state']}, expected {current}"
            )
        order_id = str(job["order_id"])
        if set_state_if(conn, order_id, order_from, order_to) is None:
            state = one(conn, "SELECT state FROM purchase_orders WHERE id = %s", (order_id,))
            raise ApiError(
                400,
                "INVALID_STATUS_TRANSITION",
                f"Cannot move an order from {state and state['state']} to {order_to}",
            )
        row = one(
            conn,
            f"UPDATE courier_jobs SET state = %s, {stamp} = now()"
            f" WHERE id = %s RETURNING {ASSIGNMENT_FIELDS}",
            (target, job_id),
        )
    assert row is not None
    return Reply(200, dict(row))


def pickup(app: App, req: Request) -> Reply:
    return _advance(
        app, req, current="ACCEPTED", target="PICKED_UP", order_from="CONFIRMED", order_to="SHIPPING"
    )


def deliver(app: App, req: Request) -> Reply:
    return _advance(
        app, req, current="PICKED_UP", target="DELIVERED", order_from="SHIPPING", order_to="DELIVERED"
    )
