"""A streamed text response: a generator handler, whose every yield reaches the caller at once.

Lambda streams it to a Function URL in RESPONSE_STREAM mode or to InvokeWithResponseStream;
here `make demo HANDLER=stream`, `shim invoke` and `shim serve` show each piece as it arrives.
What an LLM's tokens look like on their way out.
"""

import time


def Handle(event, context):
    words = str(event.get("text") or "Hello from a streaming Lambda function").split()
    delay = min(float(event.get("delay", 0.1)), 1.0)
    for number, word in enumerate(words, 1):
        yield word + (" " if number < len(words) else "\n")  # str goes out as UTF-8
        time.sleep(delay)  # the work that produces the next piece
