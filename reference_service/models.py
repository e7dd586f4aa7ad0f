"""Request bodies. Strict integers: "5" is not a quantity; unknown fields are ignored.

Every string must be storable: PostgreSQL text holds no NUL character and UTF-8 no lone surrogate
(JSON's "\ud800"), so both are a 400 VALIDATION_ERROR naming the field, not a 500 from the driver.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

MAX_CENTS = 10**11


def unstorable_reason(value: str) -> str | None:
    """Why PostgreSQL could not store `value` as text, or None when it can."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogate)"
    return None


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if isinstance(value, str) and (reason := unstorable_reason(value)):
            raise ValueError(reason)
        return value


class LoginBody(Body):
    email: StrictStr = Field(min_length=3, max_length=254)
    password: StrictStr = Field(min_length=1, max_length=200)


class OrderItem(Body):
    sku: StrictStr = Field(min_length=1, max_length=64)
    quantity: StrictInt = Field(ge=1, le=10_000)
    unitPriceCents: StrictInt = Field(ge=0, le=MAX_CENTS)


class CreateOrderBody(Body):
    sellerId: UUID
    items: list[OrderItem] = Field(min_length=1, max_length=100)
    shippingZip: StrictStr = Field(min_length=3, max_length=12, pattern=r"^[A-Za-z0-9 -]+$")


class UpdateOrderBody(Body):
    status: Literal["PENDING", "CONFIRMED", "SHIPPING", "DELIVERED", "CANCELLED"]


class CreatePaymentBody(Body):
    orderId: UUID
    method: Literal["WALLET"] = "WALLET"


class TopUpBody(Body):
    amountCents: StrictInt = Field(gt=0, le=MAX_CENTS)


class CreateAssignmentBody(Body):
    orderId: UUID
    candidateAgentIds: list[UUID] | None = Field(default=None, max_length=1000)
