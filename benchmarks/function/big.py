"""A ~5 MB response of small objects, built once at import (encoding it is what is measured)."""

ITEMS = [
    {"id": i, "name": "item-%06d" % i, "price": i * 0.25, "tags": ["alpha", "beta"], "active": i % 2 == 0}
    for i in range(50000)
]


def Handle(event, context):
    return ITEMS
