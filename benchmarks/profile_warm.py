"""Where the warm path's instructions go: per-invoke instruction counts of a runtime process.

    .venv/bin/python benchmarks/profile_warm.py                       # lambda-shim, small echo
    .venv/bin/python benchmarks/profile_warm.py --runtime bare        # the floor (benchmarks/bare_loop.py)
    .venv/bin/python benchmarks/profile_warm.py --runtime awslambdaric
    .venv/bin/python benchmarks/profile_warm.py --breakdown-python ~/.pyenv/versions/3.12.1/bin/python3.12

Wall time on a shared 2-core VM moves by tens of percent between runs; instruction counts
do not (they repeat to well under 1%). So the runtime process runs under valgrind against
the benchmark's own Runtime API server (benchmarks/server.py, in this process, not under
valgrind) twice: once for init plus WARMUP invokes, once for init plus WARMUP + INVOKES.
The difference divided by INVOKES is what one warm invoke costs, with init and the first
invokes' one-time work subtracted out. Counts are user-space instructions only: the
kernel's side of a syscall is not in them, so the syscalls per invoke are counted too
(strace -c, if installed), and each one costs the kernel a few µs on this VM.

1. Totals: `valgrind --tool=cachegrind --cache-sim=no` on the interpreter the benchmark
   uses (this one, or --python).
2. Breakdown: `valgrind --tool=callgrind`, per function, per invoke. With Python 3.12+
   (--breakdown-python) the interpreter runs with `-X perf`: every Python function is
   entered through a trampoline of its own that the interpreter lists in
   /tmp/perf-PID.map, and those addresses are named here, so Python functions get
   inclusive counts (their callees included). The trampolines make every call a little
   dearer, so these figures are a bit above the totals of step 1; compare them with each
   other. Without 3.12+, only C functions are listed (self counts).

Needs valgrind (`apt-get install valgrind`); the script says so and exits 2 without it.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from bench import BASE_ENV  # noqa: E402
from server import BenchAPI, BenchmarkError, next_reply  # noqa: E402

START = "import shim.runtime.main as r; r.main()"  # what the bootstrap runs (its -c)
EVENT = b'{"n": 1}'


def prepare(workdir, runtime):
    """The task root for `runtime`: ours is the packed zip unzipped read-only, as in bench.py."""
    if runtime == "shim":
        from shim.pack.packer import extract, pack

        zip_path = os.path.join(workdir, "function.zip")
        pack(os.path.join(HERE, "function"), zip_path, handler="trivial.echo", quiet=True)
        root = os.path.join(workdir, "ours")
        extract(zip_path, root, read_only=True)
        return root
    if runtime == "awslambdaric":
        root = os.path.join(workdir, "theirs")
        shutil.copytree(os.path.join(HERE, "function"), root)
        return root
    return HERE


def command(runtime, python, handler, root, perf):
    flags = ["-X", "perf"] if perf else []
    if runtime == "shim":
        return [python] + flags + ["-c", START]
    if runtime == "awslambdaric":
        return [python] + flags + ["-m", "awslambdaric", handler]
    return [python, "-I", "-S"] + flags + [os.path.join(HERE, "bare_loop.py")]


def environment(runtime, api, handler, root, workdir):
    env = dict(
        BASE_ENV,
        AWS_LAMBDA_RUNTIME_API=api.address,
        _HANDLER=handler,
        LAMBDA_TASK_ROOT=root,
        PYTHONHASHSEED="0",
        TMPDIR=workdir,
    )  # one hash seed: the same dict probes in every run
    if runtime == "shim":
        env["PYTHONPATH"] = root
        env["_SHIM_CRASH_FILE"] = os.path.join(workdir, "crash")  # as the bootstrap sets it: the record is real
    elif runtime == "awslambdaric":
        env["PYTHONPATH"] = root
    return env


def run_once(wrapper, runtime, python, handler, root, workdir, invokes, perf=False):
    """Start the runtime under `wrapper` (a valgrind or strace command), serve `invokes` small echoes,
    then close the connection and the listener, so it exits by itself and its tool writes its output."""
    api = BenchAPI()
    process = subprocess.Popen(
        wrapper + command(runtime, python, handler, root, perf),
        cwd=root,
        env=environment(runtime, api, handler, root, workdir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    api.process = process
    try:
        api.expect_next(timeout=300)
        if invokes:
            api.serve(invokes, lambda rid: next_reply(rid, EVENT), _echoed)
    except BenchmarkError:
        process.kill()
        raise BenchmarkError(
            "%s failed under %s:\n%s"
            % (runtime, (wrapper or ["no tool"])[0], process.communicate()[1].decode()[-3000:])
        )
    finally:
        api.close()
    try:
        _, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # still retrying a connection: a signal ends it (and the tool writes)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    return err.decode(errors="replace"), process.pid


def _echoed(body):
    if body != EVENT:
        raise BenchmarkError("wrong response: %r" % body[:300])


# -- the three measurements -----------------------------------------------------------------------


def total_instructions(args, root, workdir, invokes):
    out = os.path.join(workdir, "cachegrind.%d" % invokes)
    run_once(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=" + out],
        args.runtime,
        args.python,
        args.handler,
        root,
        workdir,
        invokes,
    )
    with open(out) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise BenchmarkError("no summary in %s" % out)


def syscalls(args, root, workdir, invokes):
    """{syscall name: calls} of the runtime process (strace -c), or None without strace."""
    if shutil.which("strace") is None:
        return None
    out = os.path.join(workdir, "strace.%d" % invokes)
    run_once(["strace", "-c", "-o", out], args.runtime, args.python, args.handler, root, workdir, invokes)
    counts = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                counts[parts[-1]] = int(parts[3])
    return counts


def supports_perf_trampoline(python):
    probe = subprocess.run(
        [python, "-X", "perf", "-c", "import sys; print(sys.is_stack_trampoline_active())"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "True"


def function_counts(args, root, workdir, invokes, perf):
    """{function: (self Ir, inclusive Ir)} from one callgrind run; Python functions named through the perf map."""
    out = os.path.join(workdir, "callgrind.%d" % invokes)
    _, pid = run_once(
        ["valgrind", "--tool=callgrind", "--dump-instr=no", "--callgrind-out-file=" + out],
        args.runtime,
        args.breakdown_python,
        args.handler,
        root,
        workdir,
        invokes,
        perf,
    )
    names = perf_map(pid) if perf else {}
    counts = {}
    for inclusive in (False, True):
        text = subprocess.run(
            ["callgrind_annotate", "--threshold=100", "--inclusive=%s" % ("yes" if inclusive else "no"), out],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in text.splitlines():
            match = _ANNOTATE_LINE.match(line)
            if not match:
                continue
            name = _name(match.group(2), names)
            if name is None:
                continue
            ir = int(match.group(1).replace(",", ""))
            self_ir, incl_ir = counts.get(name, (0, 0))
            counts[name] = (self_ir, incl_ir + ir) if inclusive else (self_ir + ir, incl_ir)
    return counts


_ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*)$")
_ADDRESS = re.compile(r"^\?\?\?:0x([0-9a-f]+)('\d+)? \[\?\?\?\]$")


def _name(raw, perf_names):
    """'file:function [object]' -> a short name; a JIT address -> its Python function; None for totals."""
    if raw.startswith("PROGRAM TOTALS") or raw.startswith("file:function"):
        return None
    match = _ADDRESS.match(raw)
    if match:
        address = int(match.group(1), 16)
        name = perf_names.get(address)
        if name is None:
            return "(unnamed code at 0x%x)" % address
        return name + (match.group(2) or "")
    location, _, obj = raw.partition(" [")
    path, _, function = location.rpartition(":")
    return "%s  (%s)" % (function, os.path.basename(obj.rstrip("]")) if obj else os.path.basename(path))


def perf_map(pid):
    """{trampoline address: 'py: function (file)'} from the interpreter's /tmp/perf-PID.map."""
    names = {}
    path = "/tmp/perf-%d.map" % pid
    try:
        with open(path) as f:
            for line in f:
                start, _, name = line.rstrip("\n").split(" ", 2)
                if name.startswith("py::"):
                    function, _, filename = name[4:].partition(":")
                    names[int(start, 16)] = "py: %s  (%s)" % (function, _short(filename))
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    return names


def _short(filename):
    """shim/runtime/invoke.py rather than the temporary task root's whole path."""
    for marker in ("/shim/", "/awslambdaric/", "/benchmarks/", "/lib/python"):
        at = filename.find(marker)
        if at >= 0:
            return filename[at + 1 :]
    return os.path.basename(filename)


# -- report ---------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runtime", choices=("shim", "awslambdaric", "bare"), default="shim")
    parser.add_argument("--handler", default="trivial.echo", help="from benchmarks/function (default: trivial.echo)")
    parser.add_argument("--invokes", type=int, default=2000, help="measured warm invokes (default: 2000)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=100,
        help="invokes in the subtracted run too, so first-invoke work is not counted (default: 100)",
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter for the totals (default: this one)")
    parser.add_argument(
        "--breakdown-python",
        help="the interpreter for the per-function breakdown "
        "(default: --python; Python functions are named only with 3.12+)",
    )
    parser.add_argument("--no-breakdown", action="store_true", help="totals and syscalls only")
    parser.add_argument("--top", type=int, default=45, help="rows of each breakdown table (default: 45)")
    args = parser.parse_args()
    args.breakdown_python = args.breakdown_python or args.python
    if shutil.which("valgrind") is None:
        print("profile_warm: valgrind is not installed; on Debian or Ubuntu: apt-get install valgrind", file=sys.stderr)
        return 2

    workdir = tempfile.mkdtemp(prefix="shim-profile-")
    try:
        root = prepare(workdir, args.runtime)
        base, full = args.warmup, args.warmup + args.invokes
        print(
            "%s, handler %s, %s: %d invokes after %d, subtracting a run of init and those %d"
            % (args.runtime, args.handler, args.python, args.invokes, args.warmup, args.warmup)
        )
        started = time.time()
        # Once without valgrind first: an interpreter that has not run these modules yet writes their
        # bytecode now (its stdlib's __pycache__ is writable), not in one of the two measured runs.
        run_once([], args.runtime, args.python, args.handler, root, workdir, 1)
        if args.breakdown_python != args.python:
            run_once([], args.runtime, args.breakdown_python, args.handler, root, workdir, 1)
        per_invoke = (
            total_instructions(args, root, workdir, full) - total_instructions(args, root, workdir, base)
        ) / args.invokes
        print("\ninstructions per warm invoke (cachegrind): %.0f" % per_invoke)
        calls_base, calls_full = syscalls(args, root, workdir, base), syscalls(args, root, workdir, full)
        if calls_full is not None:
            per_call = {name: (calls_full[name] - calls_base.get(name, 0)) / args.invokes for name in calls_full}
            shown = sorted(((n, c) for n, c in per_call.items() if c >= 0.005), key=lambda item: -item[1])
            print(
                "syscalls per warm invoke (strace -c): %.2f  (%s)"
                % (sum(c for _, c in shown), ", ".join("%s %.2f" % item for item in shown))
            )
        if not args.no_breakdown:
            perf = supports_perf_trampoline(args.breakdown_python)
            before = function_counts(args, root, workdir, base, perf)
            after = function_counts(args, root, workdir, full, perf)
            rows = {
                name: (
                    (after[name][0] - before.get(name, (0, 0))[0]) / args.invokes,
                    (after[name][1] - before.get(name, (0, 0))[1]) / args.invokes,
                )
                for name in after
            }
            print_breakdown(rows, args, perf)
        print("\n(%.0f s)" % (time.time() - started))
    except BenchmarkError as exc:
        print("profile_warm: %s" % exc, file=sys.stderr)
        return 1
    finally:
        subprocess.run(["chmod", "-R", "u+w", workdir])
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def print_breakdown(rows, args, perf):
    total = sum(self_ir for self_ir, _ in rows.values())
    print(
        "\nper warm invoke under callgrind%s (%s): %.0f instructions"
        % (" with -X perf" if perf else "", args.breakdown_python, total)
    )
    python_rows = [(name, incl) for name, (_, incl) in rows.items() if name.startswith("py: ") and incl >= 1]
    if python_rows:
        print("\nPython functions, inclusive (their callees included), per invoke:")
        for name, incl in sorted(python_rows, key=lambda item: -item[1])[: args.top]:
            print("%10.0f  %5.1f%%  %s" % (incl, 100.0 * incl / total, name))
    elif not perf:
        print("(Python functions are named with Python 3.12+ only: pass --breakdown-python PATH_TO_PYTHON3.12)")
    c_rows = [(name, self_ir) for name, (self_ir, _) in rows.items() if not name.startswith("py: ") and self_ir >= 1]
    print("\nC functions, self (without their callees), per invoke:")
    for name, self_ir in sorted(c_rows, key=lambda item: -item[1])[: args.top]:
        print("%10.0f  %5.1f%%  %s" % (self_ir, 100.0 * self_ir / total, name))


if __name__ == "__main__":
    sys.exit(main())
