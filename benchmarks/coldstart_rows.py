"""Cold start, like with like: instructions and wall time from exec to the first /next, both runtimes.

Every row here runs lambda-shim (the packed zip, unzipped read-only) and awslambdaric (the
function's files with their bytecode, `python -m awslambdaric`) on one base CPython, each
in a venv of its own holding only what it needs and no .pth start-up hook (clean_venv).

- instructions: user-space instructions of the runtime's Python process from exec to its first
  send(), the request for the first /next (`valgrind --tool=callgrind --dump-before=send`: the
  first dump). They repeat to well under 1% from run to run; the launcher's /bin/sh (ours) is not
  in them. The figure the budget is checked on.
- wall: exec to the first /next as the Runtime API sees it, median of REPS, the bench pinned to
  one core (sched_setaffinity, as `taskset -c N` would); ours through its bootstrap (sh included).
- the dev .venv rows: the same small function on this repo's .venv (editable install, setuptools'
  distutils-precedence.pth, test tools), to show what an unclean interpreter adds.
- the ecosystem functions (benchmarks/ecosystem/): their requirements installed from PyPI at bench
  time, the same versions for both: pip install --target for awslambdaric's task root (then
  compiled, its best case), the same pins through `shim pack` for ours; ours also packed with
  `--optimize 2` (-OO bytecode).
"""

import glob
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ECOSYSTEM = os.path.join(HERE, "ecosystem")
FUNCTIONS = {
    "boto3": "boto3 imported at module level",
    "pydantic": "a pydantic model",
    "powertools": "Powertools Logger + REST event handler",
    "fastapi": "FastAPI through Mangum",
}
START = "import shim.runtime.main as r; r.main()"  # what the bootstrap runs
REPS = 7
# Credentials as Lambda sets them: without them, creating an AWS client would look for others (IMDS).
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench"}


def instructions(python, kind, root, handler, base_env, workdir):
    """Instructions from exec to the first send() (the first /next), in millions; valgrind's callgrind."""
    from server import BenchAPI, BenchmarkError

    api = BenchAPI()
    out = os.path.join(workdir, "callgrind.out")
    for stale in glob.glob(out + "*"):
        os.unlink(stale)
    env = dict(
        base_env,
        AWS_LAMBDA_RUNTIME_API=api.address,
        _HANDLER=handler,
        LAMBDA_TASK_ROOT=root,
        PYTHONPATH=root,
        PYTHONHASHSEED="0",
        TMPDIR=workdir,
        **CREDENTIALS,
    )
    program = ["-c", START] if kind == "shim" else ["-m", "awslambdaric", handler]
    command = [
        "valgrind",
        "--tool=callgrind",
        "--dump-instr=no",
        "--dump-before=send",
        "--callgrind-out-file=" + out,
        python,
    ] + program
    process = subprocess.Popen(
        command, env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    api.process = process
    try:
        api.expect_next(timeout=600)
    except BenchmarkError:
        process.kill()
        raise BenchmarkError("%s under callgrind: %s" % (kind, process.communicate()[1].decode()[-2000:]))
    finally:
        api.close()
    try:
        process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
    first = out + ".1"
    if not os.path.exists(first):
        raise BenchmarkError("callgrind wrote no dump before the first send() for %s" % kind)
    with open(first) as handle:
        for line in handle:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1]) / 1e6
    raise BenchmarkError("no totals in %s" % first)


FILE_CALLS = (
    "stat",
    "lstat",
    "fstat",
    "newfstatat",
    "statx",
    "open",
    "openat",
    "getdents64",
    "readlink",
    "access",
    "faccessat",
    "faccessat2",
)


def file_calls(python, kind, root, handler, base_env, workdir):
    """File-system calls (stat family, open, getdents, readlink, access) of the runtime's Python process from
    exec until it exits just after its first /next (strace -c; the exit adds a few); None without strace."""
    from server import BenchAPI, BenchmarkError

    if shutil.which("strace") is None:
        return None
    api = BenchAPI()
    out = os.path.join(workdir, "strace.out")
    env = dict(
        base_env,
        AWS_LAMBDA_RUNTIME_API=api.address,
        _HANDLER=handler,
        LAMBDA_TASK_ROOT=root,
        PYTHONPATH=root,
        TMPDIR=workdir,
        **CREDENTIALS,
    )
    program = ["-c", START] if kind == "shim" else ["-m", "awslambdaric", handler]
    process = subprocess.Popen(
        ["strace", "-c", "-o", out, "-e", "trace=" + ",".join(FILE_CALLS), python] + program,
        env=env,
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api.process = process
    try:
        api.expect_next(timeout=120)
    except BenchmarkError:
        process.kill()
        raise
    finally:
        api.close()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    total = 0
    with open(out) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] in FILE_CALLS:
                total += int(parts[3])
    return total


def answered(body):
    """Any JSON response will do (both runtimes' answers are checked to be /response, not /error)."""
    import json

    json.loads(body)


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def ecosystem_roots(name, workdir, pythons, optimize_levels=(2,)):
    """{'theirs': root, 'ours': root, 'ours -OO': root, ...} for benchmarks/ecosystem/NAME, deps from PyPI."""
    from shim.pack.packer import extract, pack

    source = os.path.join(ECOSYSTEM, name)
    theirs = os.path.join(workdir, name + "-theirs")
    shutil.copytree(source, theirs, ignore=shutil.ignore_patterns("__pycache__", "requirements.txt"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            theirs,
            "-r",
            os.path.join(source, "requirements.txt"),
        ],
        check=True,
    )
    subprocess.run([pythons["awslambdaric"], "-m", "compileall", "-q", theirs], check=True)
    pins = sorted(_pins(theirs))
    ours_source = os.path.join(workdir, name + "-source")
    shutil.copytree(source, ours_source, ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(ours_source, "requirements.txt"), "w") as handle:
        handle.write("\n".join(pins) + "\n")
    roots = {"theirs": theirs, "pins": pins}
    for level in (0,) + tuple(optimize_levels):
        zip_path = os.path.join(workdir, "%s-O%d.zip" % (name, level))
        pack(ours_source, zip_path, handler="handler.handler", quiet=True, optimize=level)
        root = os.path.join(workdir, "%s-ours-O%d" % (name, level))
        extract(zip_path, root, read_only=True)
        roots["ours" if level == 0 else "ours -%s" % ("O" * level)] = root
    return roots


def _pins(target):
    from importlib import metadata

    for dist in metadata.distributions(path=[target]):
        yield "%s==%s" % (dist.metadata["Name"], dist.version)


def run(metrics, api, pythons, dev_python, workdir, small_roots, ecosystem=True, reps=REPS, log=print):
    """Add the rows to metrics ({row name: {runtime name: summary}}); {function: [the pinned requirements]}."""
    import bench

    ours_name, theirs_name = bench.OURS, bench.THEIRS

    def runtimes(ours_root, theirs_root, ours_python, theirs_python):
        ours = bench.Runtime(
            ours_name,
            ours_root,
            lambda handler: [os.path.join(ours_root, "bootstrap")],
            dict(CREDENTIALS),
            python=ours_python,
        )
        theirs = bench.Runtime(
            theirs_name,
            theirs_root,
            lambda handler: [theirs_python, "-m", "awslambdaric", handler],
            dict(CREDENTIALS),
            python=theirs_python,
        )
        return {ours_name: ours, theirs_name: theirs}

    def wall_rows(label, pair, handler):
        runs = bench.alternate(pair, reps, lambda rt: bench.cold(rt, api, handler))
        metrics[label] = {name: summary([r["cold_ms"] for r in results]) for name, results in runs.items()}

    def count_rows(label, roots, handler, ours_python, theirs_python, measure=instructions):
        row = {}
        for name, kind, root, python in (
            (ours_name, "shim", roots[0], ours_python),
            (theirs_name, "awslambdaric", roots[1], theirs_python),
        ):
            value = measure(python, kind, root, handler, bench.BASE_ENV, workdir)
            if value is None:
                return
            row[name] = summary([value])
        metrics[label] = row

    ours_small, theirs_small = small_roots
    log("cold start like with like: small function, instructions (callgrind) and wall time, %d runs ..." % reps)
    count_rows(
        "instructions to the first /next, small function, clean venvs (M)",
        (ours_small, theirs_small),
        "trivial.Handle",
        pythons["shim"],
        pythons["awslambdaric"],
    )
    count_rows(
        "file-system calls to the first /next, small function (strace)",
        (ours_small, theirs_small),
        "trivial.Handle",
        pythons["shim"],
        pythons["awslambdaric"],
        file_calls,
    )
    wall_rows(
        "cold start, small function, clean venvs, median of %d (ms)" % reps,
        runtimes(ours_small, theirs_small, pythons["shim"], pythons["awslambdaric"]),
        "trivial.Handle",
    )
    count_rows(
        "instructions to the first /next, small function, on the dev .venv instead (M)",
        (ours_small, theirs_small),
        "trivial.Handle",
        dev_python,
        dev_python,
    )
    wall_rows(
        "cold start, small function, on the dev .venv instead, median of %d (ms)" % reps,
        runtimes(ours_small, theirs_small, dev_python, dev_python),
        "trivial.Handle",
    )
    pins = {}
    if not ecosystem:
        return pins
    for name, what in FUNCTIONS.items():
        log("ecosystem function %s (%s): installing from PyPI, packing, measuring ..." % (name, what))
        roots = ecosystem_roots(name, workdir, pythons)
        pins[name] = roots["pins"]
        count_rows(
            "instructions to the first /next, %s (M)" % what,
            (roots["ours"], roots["theirs"]),
            "handler.handler",
            pythons["shim"],
            pythons["awslambdaric"],
        )
        count_rows(
            "instructions to the first /next, %s, ours packed --optimize 2 (M)" % what,
            (roots["ours -OO"], roots["theirs"]),
            "handler.handler",
            pythons["shim"],
            pythons["awslambdaric"],
        )
        count_rows(
            "file-system calls to the first /next, %s (strace)" % what,
            (roots["ours"], roots["theirs"]),
            "handler.handler",
            pythons["shim"],
            pythons["awslambdaric"],
            file_calls,
        )
        pair = runtimes(roots["ours"], roots["theirs"], pythons["shim"], pythons["awslambdaric"])
        pair["ours -OO"] = bench.Runtime(
            ours_name + " -OO",
            roots["ours -OO"],
            lambda handler, r=roots["ours -OO"]: [os.path.join(r, "bootstrap")],
            dict(CREDENTIALS),
            python=pythons["shim"],
        )
        with open(os.path.join(ECOSYSTEM, name, "event.json"), "rb") as handle:
            event = handle.read()
        runs = bench.alternate(pair, reps, lambda rt: bench.cold(rt, api, "handler.handler", event, answered))
        metrics["cold start, %s, median of %d (ms)" % (what, reps)] = {
            ours_name: summary([r["cold_ms"] for r in runs[ours_name]]),
            theirs_name: summary([r["cold_ms"] for r in runs[theirs_name]]),
        }
        metrics["cold start, %s, ours packed --optimize 2, median of %d (ms)" % (what, reps)] = {
            ours_name: summary([r["cold_ms"] for r in runs["ours -OO"]]),
            theirs_name: summary([r["cold_ms"] for r in runs[theirs_name]]),
        }
    return pins
