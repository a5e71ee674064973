"""The cold-start handler: nothing imported, nothing done."""


def Handle(event, context):
    return "ok"


def echo(event, context):
    """The warm rows' handler: the event back, as the bare loop (benchmarks/bare_loop.py) posts it back."""
    return event
