"""aws-lambda-powertools: a Logger and a REST event handler."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

logger = Logger(service="bench")
app = APIGatewayRestResolver()


@app.get("/hello")
def hello():
    logger.info("hello")
    return {"message": "hello"}


@logger.inject_lambda_context
def handler(event, context):
    return app.resolve(event, context)
