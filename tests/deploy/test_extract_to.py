"""`shim pack --extract-to DIR` (what SAM's and CDK's builds call) and `shim invoke` on the folder it fills.

Without sam or cdk installed, this is the part of their builds that is ours: the zip's
contents in a folder with their modes, and that folder run as it is.
"""

import json
import os
import stat
import subprocess
import sys
import zipfile

SHIM = [sys.executable, "-m", "shim.cli"]


def run(args, cwd, stdin=None):
    return subprocess.run(SHIM + args, cwd=str(cwd), input=stdin, capture_output=True, text=True, timeout=180)


def files(root):
    return {
        os.path.relpath(os.path.join(d, n), str(root)).replace(os.sep, "/"): stat.S_IMODE(
            os.stat(os.path.join(d, n)).st_mode
        )
        for d, _, names in os.walk(str(root))
        for n in names
    }


def test_extract_to_holds_the_zip_with_its_modes_and_invoke_runs_it(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(event, context):\n    return {'got': event}\n"})
    out = tmp_path / "artifacts"
    done = run(["pack", str(function), "--extract-to", str(out), "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Unpacked into %s" % out in done.stdout
    done = run(["pack", str(function), "--output", str(tmp_path / "f.zip"), "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(str(tmp_path / "f.zip")) as archive:
        zipped = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
    assert files(out) == zipped and zipped["bootstrap"] == 0o755
    assert not [p for p in os.listdir(str(tmp_path)) if p.endswith(".zip") and p != "f.zip"]  # no zip left over

    done = run(["invoke", str(out), "--event", "-"], tmp_path, stdin='{"n": 2}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"got": {"n": 2}}
    assert files(out) == zipped  # run as it is: nothing written into it


def test_pack_without_an_output_writes_dist_name_zip_in_the_current_folder(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    done = run(["pack", str(function)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "dist" / (os.path.basename(str(function)) + ".zip")).is_file()


def test_extract_to_refuses_a_folder_that_is_not_empty(make_function, tmp_path):
    function = make_function({"handler.py": "def Handle(e, c):\n    return 1\n"})
    out = tmp_path / "artifacts"
    out.mkdir()
    (out / "old.txt").write_text("x")
    done = run(["pack", str(function), "--extract-to", str(out), "--quiet"], tmp_path)
    assert done.returncode == 2 and "the directory is not empty" in done.stderr and "Traceback" not in done.stderr
    assert os.listdir(str(out)) == ["old.txt"]
