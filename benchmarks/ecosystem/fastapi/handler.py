"""FastAPI through Mangum."""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/hello")
def hello():
    return {"message": "hello"}


handler = Mangum(app, lifespan="off")
