"""The pytest plugin, tested the way a user's suite would use it (pytester runs an inner pytest)."""

import pytest

import shim.pack.packer  # noqa: F401 - see below

pytest_plugins = ["pytester"]

# importlib_metadata 10 imports its own parts lazily (lazy-importer): resolve them here too, or the first
# lookup inside an in-process run does, and pytester's restore of sys.modules leaves later runs none.
__import__("importlib_metadata").entry_points(group="pytest11")

# shim.pack.packer imports the importlib_metadata backport, which on import moves the discovery of
# installed distributions from the stdlib's PathFinder to a finder of its own in sys.meta_path.
# pytester restores sys.meta_path after each in-process run: had the first import happened
# inside one, later runs would find no pytest11 entry points at all, so not this plugin.

HANDLER = """\
import logging, os
print("module loaded")
log = logging.getLogger("app")
log.setLevel(logging.INFO)

def Handle(event, context):
    log.info("got %s", event.get("name"))
    if event.get("fail"):
        raise KeyError("missing thing")
    return {"hello": event.get("name"), "pid": os.getpid()}
"""


@pytest.fixture
def function_dir(pytester):
    pytester.mkdir("fn")
    pytester.path.joinpath("fn", "handler.py").write_text(HANDLER)
    return pytester


def test_lambda_function_invokes_through_the_real_bootstrap(function_dir):
    function_dir.makepyfile(
        test_app="""
        def test_cold_then_warm(lambda_function):
            fn = lambda_function("fn")
            first = fn.invoke({"name": "Ada"})
            assert first.ok and first.payload["hello"] == "Ada"
            assert first.init_ms > 0 and first.duration_ms > 0 and first.max_memory_mb > 0
            assert [r["message"] for r in first.init_records] == ["module loaded"]
            assert [(r["level"], r["message"], r["requestId"]) for r in first.records] == [
                ("INFO", "got Ada", first.request_id)]
            second = fn.invoke({"name": "Bo"})
            assert second.init_ms is None and second.payload["pid"] == first.payload["pid"]

        def test_errors_carry_the_error_type(lambda_function):
            result = lambda_function("fn").invoke({"fail": True})
            assert not result.ok and result.payload == result.error
            assert result.error_type == "KeyError"
            assert result.error["errorMessage"] == "'missing thing'"
            assert any(r.get("level") == "ERROR" and "KeyError" in r["message"] for r in result.records)

        def test_json_log_format(lambda_function):
            fn = lambda_function("fn", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
            record, = fn.invoke({"name": "Cy"}).records
            assert (record["message"], record["logger"], record["level"]) == ("got Cy", "app", "INFO")

        def test_a_handler_that_does_not_resolve(lambda_function):
            fn = lambda_function("fn", "nowhere.Handle")
            assert fn.init_failure is not None
            result = fn.invoke({})
            assert result.kind == "init_error" and result.error_type == "Runtime.ImportModuleError"
    """
    )
    function_dir.runpytest("-q").assert_outcomes(passed=4)


def test_a_streaming_result_has_its_chunks_their_times_and_the_error(function_dir):
    function_dir.path.joinpath("fn", "streamer.py").write_text(
        "import time\n"
        "def Handle(event, context):\n"
        "    yield 'a'\n"
        "    time.sleep(0.2)\n"
        "    yield b'b'\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('mid-stream')\n"
    )
    function_dir.makepyfile(
        test_app="""
        def test_stream(lambda_function):
            fn = lambda_function("fn", "streamer.Handle")
            result = fn.invoke({})
            assert result.ok and result.streamed and result.chunks == [b"a", b"b"]
            # From when the runtime took the event: "b" cannot arrive before the handler's 0.2 s sleep is over
            # (the gap between the chunks can be shorter: "a" may be read late on a busy machine).
            assert result.chunk_times_ms[0] <= result.chunk_times_ms[1] and result.chunk_times_ms[1] >= 199
            assert result.stream_error is None
            failed = fn.invoke({"fail": True})
            assert not failed.ok and failed.chunks == [b"a", b"b"]
            assert failed.error_type == "ValueError" and failed.stream_error["errorMessage"] == "mid-stream"
    """
    )
    function_dir.runpytest("-q").assert_outcomes(passed=1)


def test_module_scope_keeps_one_warm_environment(function_dir):
    function_dir.makepyfile(
        test_app="""
        import pytest

        @pytest.fixture(scope="module")
        def app(lambda_function_module):
            return lambda_function_module("fn", timeout=5, memory=256)

        def test_first(app):
            result = app.invoke({"name": "a"})
            assert result.cold and "Memory Size: 256 MB" in result.report_line()
            pytest.pid = result.payload["pid"]

        def test_second_is_warm(app):
            result = app.invoke({"name": "b"})
            assert not result.cold and result.payload["pid"] == pytest.pid
    """
    )
    function_dir.runpytest("-q").assert_outcomes(passed=2)


def test_a_failing_test_shows_the_lambda_log_stream(function_dir):
    function_dir.makepyfile(
        test_app="""
        def test_wrong_expectation(lambda_function):
            assert lambda_function("fn").invoke({"name": "Ada"}).payload["hello"] == "Bo"
    """
    )
    result = function_dir.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Captured lambda logs call*",
            "module loaded",
            "START RequestId: * Version: $LATEST",
            "*got Ada",
            "END RequestId: *",
            "REPORT RequestId: *Init Duration: *",
        ]
    )


def test_packed_directory_and_zip(function_dir):
    function_dir.makepyfile(
        test_app="""
        from shim.pack import packer as pack

        def test_pack_true(lambda_function):
            result = lambda_function("fn", pack=True).invoke({"name": "packed"})
            assert result.payload["hello"] == "packed"

        def test_zip(lambda_function, tmp_path):
            built = pack.pack("fn", tmp_path / "fn.zip")
            assert lambda_function(zip=built.path).invoke({"name": "zipped"}).payload["hello"] == "zipped"
    """
    )
    function_dir.runpytest("-q").assert_outcomes(passed=2)


def test_a_missing_directory_is_a_clear_error(function_dir):
    function_dir.makepyfile(
        test_app="""
        import pytest

        def test_missing(lambda_function):
            with pytest.raises(ValueError, match="no such function directory: .*nope"):
                lambda_function("nope")
    """
    )
    function_dir.runpytest("-q").assert_outcomes(passed=1)


def test_lambda_function_takes_snapstart_and_max_concurrency(function_dir):
    function_dir.makepyfile(
        test_app="""
        import threading

        def test_snapstart(lambda_function):
            result = lambda_function("fn", snapstart=True).invoke({"name": "Ada"})
            assert result.ok and result.restore_ms > 0 and result.init_ms is None

        def test_max_concurrency(lambda_function):
            fn = lambda_function("fn", max_concurrency=2)
            results = []
            threads = [threading.Thread(target=lambda: results.append(fn.invoke({"name": "x"}))) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert len(results) == 2 and all(r.ok for r in results)
            # Managed Instances log JSON only; each invoke's log holds its own request's records.
            assert all([(rec["logger"], rec["requestId"]) for rec in r.records] == [("app", r.request_id)]
                       for r in results)
    """
    )
    function_dir.runpytest("-q").assert_outcomes(passed=2)
