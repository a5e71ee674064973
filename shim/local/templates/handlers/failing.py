"""A handler that raises, to show what Lambda returns for an unhandled error.

The invoke fails with this payload (and `X-Amz-Function-Error: Unhandled`
from `shim serve`), and the runtime logs the same error with its traceback:

    {"errorMessage": "quantity must be at least 1, got 0",
     "errorType": "OrderRejected",
     "requestId": "...",
     "stackTrace": ["  File \".../failing.py\", line ..., in Handle\n ...", ...]}

    shim invoke handlers --handler failing.Handle --event - <<< '{"quantity": 0}'
"""


class OrderRejected(Exception):
    """Its class name becomes the errorType."""


def Handle(event, context):
    quantity = event.get("quantity", 0)
    check_quantity(quantity)
    return {"accepted": quantity}


def check_quantity(quantity):
    if not isinstance(quantity, int) or quantity < 1:
        raise OrderRejected("quantity must be at least 1, got %r" % (quantity,))
