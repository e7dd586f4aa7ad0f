"""Typed dependencies shared by the routes: the app's Database and the caller, by role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from reference_service.auth import Principal, Role, require
from reference_service.db import Database


async def database(request: Request) -> Database:
    # async: FastAPI runs a plain `def` dependency in a thread pool, a hop per request for nothing.
    db: Database = request.app.state.db
    return db


DB = Annotated[Database, Depends(database)]
AnyUser = Annotated[Principal, Depends(require())]
Buyer = Annotated[Principal, Depends(require(Role.BUYER))]
BuyerOrAdmin = Annotated[Principal, Depends(require(Role.BUYER, Role.ADMIN))]
OrderEditor = Annotated[Principal, Depends(require(Role.BUYER, Role.SELLER, Role.ADMIN))]
Agent = Annotated[Principal, Depends(require(Role.AGENT))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
AdminOrSeller = Annotated[Principal, Depends(require(Role.ADMIN, Role.SELLER))]
