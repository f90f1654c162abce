"""Run by test_volumes under every Python found (3.9 to 3.13): the redirect in a process of its own.

``python volume_redirect_check.py <worker python folder> <local folder> <volume path>``; prints a JSON
object of what tasks would see. The local folder holds ``a.txt`` ("a") and ``sub/b.txt`` ("b").
"""
from __future__ import annotations

import errno
import glob
import json
import os
import pathlib
import shutil
import sys
import tempfile

sys.path.insert(0, sys.argv[1])
local, root = sys.argv[2], sys.argv[3]

from skyward_worker.volume_redirect import install  # noqa: E402
from skyward_worker.volume_spec import Mount  # noqa: E402

install([Mount(root, local, False, local)])
out: dict[str, object] = {}
with open(f"{root}/a.txt") as f:
    out["open"] = f.read()
out["path_open"] = pathlib.Path(root, "a.txt").open().read()
out["read_text"] = pathlib.Path(root, "sub", "b.txt").read_text()
out["iterdir"] = sorted(str(p) for p in pathlib.Path(root).iterdir())
out["glob"] = sorted(str(p) for p in pathlib.Path(root).glob("*.txt"))
out["rglob"] = sorted(str(p) for p in pathlib.Path(root).rglob("*.txt"))
out["glob.glob"] = sorted(glob.glob(f"{root}/**/*.txt", recursive=True))
out["listdir"] = sorted(os.listdir(root))
out["scandir"] = sorted(e.path for e in os.scandir(root))
out["exists"] = [pathlib.Path(root).exists(), pathlib.Path(root, "sub").is_dir(), pathlib.Path(root, "a.txt").is_file(),
                 os.path.getsize(f"{root}/a.txt"), pathlib.Path(root, "nope").exists(), os.path.isdir(root + "x")]
out["stat"] = pathlib.Path(root, "a.txt").stat().st_size
out["walk"] = sorted(os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names)
with tempfile.TemporaryDirectory() as copy:
    shutil.copytree(root, os.path.join(copy, "tree"))
    shutil.copy(f"{root}/a.txt", os.path.join(copy, "a2.txt"))
    out["copied"] = sorted(os.path.relpath(os.path.join(d, n), copy) for d, _, names in os.walk(copy) for n in names)
refused = []
for attempt in (lambda: pathlib.Path(root, "new.txt").write_text("x"), lambda: open(f"{root}/a.txt", "a"),
                lambda: pathlib.Path(root, "a.txt").unlink(), lambda: pathlib.Path(root, "d").mkdir(),
                lambda: os.open(f"{root}/a.txt", os.O_RDWR), lambda: pathlib.Path(root, "a.txt").touch()):
    try:
        attempt()
        refused.append(False)
    except PermissionError as exc:
        refused.append(exc.errno == errno.EROFS)
out["refused"] = refused
print(json.dumps(out))
