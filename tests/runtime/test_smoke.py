def test_example_handler_answers_through_bootstrap(start):
    env = start("shim/local/templates/handlers")
    result = env.invoke({"name": "Ada"}, timeout=10)
    assert result.kind == "response", env.output()
    assert result.payload["message"] == "Hello, Ada!"
    assert result.payload["requestId"] == result.request_id
