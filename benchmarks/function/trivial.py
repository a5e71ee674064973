"""The cold-start handler: nothing imported, nothing done."""


def Handle(event, context):
    return "ok"
