"""A pydantic model validating the event."""

from typing import List

from pydantic import BaseModel


class Order(BaseModel):
    id: int
    items: List[str] = []


def handler(event, context):
    return Order.model_validate(event).model_dump()
