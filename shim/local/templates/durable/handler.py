"""A durable function (Lambda durable functions, PyPI aws-durable-execution-sdk-python): an order in
three checkpointed steps with a one-hour cooling-off wait between them.

Lambda runs it as several invocations: the wait suspends it (the handler returns PENDING), and an hour
later Lambda invokes it again; the SDK replays the finished steps from their checkpoints instead of
running them twice. Locally (waits skipped, in seconds):

    shim invoke shop --durable --event shop/tests/event.json     # after `shim new shop --template durable`
"""

from aws_durable_execution_sdk_python import DurableContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration


SAMPLE_ITEMS = [{"sku": "pen", "price": 2.5, "quantity": 4}]


@durable_step
def reserve(step_context, order_id, items):
    return {"order": order_id, "reserved": sum(item["quantity"] for item in items)}


@durable_step
def charge(step_context, order_id, amount):
    return {"order": order_id, "charged": round(amount, 2)}


@durable_step
def ship(step_context, order_id):
    return {"order": order_id, "status": "shipped"}


@durable_execution
def Handle(event, context: DurableContext):
    order_id = event.get("order_id", "A-17")
    items = event.get("items", SAMPLE_ITEMS)
    reservation = context.step(reserve(order_id, items), name="reserve")
    context.wait(Duration.from_hours(1), name="cooling-off")
    payment = context.step(charge(order_id, sum(i["price"] * i["quantity"] for i in items)), name="charge")
    shipment = context.step(ship(order_id), name="ship")
    return {
        "order": order_id,
        "reserved": reservation["reserved"],
        "charged": payment["charged"],
        "status": shipment["status"],
    }
