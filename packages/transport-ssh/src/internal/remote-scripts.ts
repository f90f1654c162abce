/**
 * Python programs run on the host with its own `python3`, fed on stdin with their arguments inside
 * (`SPEC`, see `runRemotePython`). The
 * probe avoids newer syntax so that an old interpreter still answers with its version.
 */

/**
 * Reports the interpreter, platform and what of Skyward's cache already exists: the environment
 * (`{pytag}` in `spec.env` becomes "311"), with the mirrored requirements it was made without.
 */
export const PROBE_SCRIPT = String.raw`
import json, os, platform, sys
spec = SPEC
root = os.path.join(os.path.expanduser("~"), spec["root"]) if not spec["root"].startswith("/") else spec["root"]
# the login's alone: it will hold copies of the user's project and their environments
try:
    os.makedirs(root, mode=0o700, exist_ok=True)
    os.chmod(root, 0o700)
except Exception:
    pass
def can_import(name):
    try:
        __import__(name)
        return True
    except Exception:
        return False
libc = platform.libc_ver()
out = {
    "version": list(sys.version_info[:3]),
    "executable": sys.executable,
    "implementation": getattr(getattr(sys, "implementation", None), "name", "cpython"),
    "venv": can_import("venv"),
    "ensurepip": can_import("ensurepip"),
    "machine": platform.machine(),
    "system": platform.system(),
    "libc": [libc[0], libc[1]],
    "home": os.path.expanduser("~"),
    "root": root,
    "cpus": os.cpu_count(),
    "envReady": False,
    "dropped": [],
    "modules": [m for m in spec.get("modules", []) if os.path.exists(os.path.join(root, m, ".skyward-complete"))],
}
if spec.get("env"):
    marker = os.path.join(root, spec["env"].replace("{pytag}", "%d%d" % sys.version_info[:2]), ".skyward-ready")
    out["envReady"] = os.path.exists(marker)
    try:
        with open(marker) as f:
            out["dropped"] = json.load(f).get("dropped", [])
    except Exception:
        pass
sys.stdout.write("SKYWARD-PROBE " + json.dumps(out) + "\n")
`

/**
 * Makes the environment once: takes an exclusive flock next to it (two pools bootstrapping the
 * same host wait for each other), reuses it when its marker exists, else (re)creates the venv and
 * installs from the uploaded wheels (no index) or from an index, then writes the marker (with the
 * mirrored requirements left out, which the probe reports on later runs).
 */
export const ENV_SCRIPT = String.raw`
import fcntl, json, os, re, shutil, signal, subprocess, sys
spec = SPEC
env = spec["env"]
os.makedirs(os.path.dirname(env), exist_ok=True)
marker = os.path.join(env, ".skyward-ready")
with open(env + ".lock", "w") as lock:
    if os.path.exists(marker):
        print("SKYWARD-ENV cached", flush=True)
        sys.exit(0)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("waiting for another Skyward pool that is building " + env, flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    if os.path.exists(marker):
        print("SKYWARD-ENV cached", flush=True)
        sys.exit(0)
    shutil.rmtree(env, ignore_errors=True)
    print("creating virtual environment " + env + " (" + sys.executable + " " + sys.version.split()[0] + ")", flush=True)
    if spec.get("apt"):
        apt = ["apt-get", "install", "-y", "--no-install-recommends"] + spec["apt"]
        if os.geteuid() != 0:
            if shutil.which("sudo") is None:
                print("SKYWARD-FAIL apt-root", flush=True)
                sys.exit(1)
            apt = ["sudo", "-n"] + apt
        print("installing system packages: " + " ".join(spec["apt"]), flush=True)
        code = subprocess.call(apt, stderr=subprocess.STDOUT, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if code != 0:
            print("SKYWARD-FAIL apt", flush=True)
            sys.exit(code)
    wheelhouse = spec["mode"] == "wheelhouse"
    # with a wheelhouse, pip runs from its shipped wheel: no ensurepip (slow, and missing without python3-venv)
    code = subprocess.call([sys.executable, "-m", "venv"] + (["--without-pip"] if wheelhouse else []) + [env], stderr=subprocess.STDOUT)
    if code != 0:
        print("SKYWARD-FAIL venv", flush=True)
        sys.exit(code)
    python = os.path.join(env, "bin", "python")
    if wheelhouse:
        runner = os.path.join(spec["wheels"], spec["runner"], "pip")
        pip = [python, runner, "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--no-compile", "--no-index", "--find-links", spec["wheels"]]
        pip += [os.path.join(spec["wheels"], f) for f in spec["files"]]
    else:
        pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--no-compile"]
        pip += spec["requirements"]
    pip_env = dict(os.environ, PYTHONUNBUFFERED="1")
    if not wheelhouse and spec["indexes"]:
        # in pip's environment, not on its command line (any user can read that): a URL may hold a password
        pip_env["PIP_EXTRA_INDEX_URL"] = " ".join([pip_env.get("PIP_EXTRA_INDEX_URL", "")] + spec["indexes"]).strip()
    code = subprocess.call(pip, stderr=subprocess.STDOUT, env=pip_env)
    if code != 0:
        print("SKYWARD-FAIL pip", flush=True)
        sys.exit(code)
    # bytecode on every core (pip compiles on one: most of its time for scikit-learn); best effort, as pip's.
    # compileall prints nothing, so a tick on stdout notices the client gone (pip's output does the same
    # for pip) and its process group, workers included, goes with this script.
    compiler = subprocess.Popen([python, "-m", "compileall", "-qq", "-j", "0", env], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    while True:
        try:
            compiler.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            pass
        try:
            print("SKYWARD-COMPILING", flush=True)
        except OSError:
            os.killpg(compiler.pid, signal.SIGKILL)
            raise
    if wheelhouse and not os.path.exists(os.path.join(env, "bin", "pip")):
        # "pip" in the environment (for plugin ops) runs the shipped wheel with the environment's Python
        for name in ("pip", "pip3"):
            shim = os.path.join(env, "bin", name)
            with open(shim, "w") as f:
                f.write("#!/bin/sh\nexec '%s' '%s' \"$@\"\n" % (python, runner))
            os.chmod(shim, 0o755)
    # the login's alone, and no credential of a requirement's URL in it
    with os.fdopen(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump({"python": sys.version.split()[0], "requirements": [re.sub(r"://[^/@\s]+@", "://***@", r) for r in spec["requirements"]], "dropped": spec.get("dropped", [])}, f)
    print("SKYWARD-ENV built", flush=True)
`

/**
 * Makes a work folder from the host's content store (`DATA`, see `withData`: the files, and those
 * uploaded in this run). First checks each uploaded file's SHA-256: one edited on the client while
 * it was sent lies under a wrong name, so it leaves the store and the program fails
 * (`SKYWARD-CHANGED [paths]`). Then copies every file into place with its executable bit.
 */
export const WORKDIR_SCRIPT = String.raw`
import hashlib, json, os, shutil, sys
spec = SPEC
store, work = spec["store"], spec["work"]
changed = []
for sent in DATA["verify"]:
    stored = os.path.join(store, sent["hash"])
    sha = hashlib.sha256()
    try:
        with open(stored, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha.update(block)
    except FileNotFoundError:
        pass
    if sha.hexdigest() != sent["hash"]:
        # under this name it would be copied into every later work folder of this host
        try:
            os.remove(stored)
        except FileNotFoundError:
            pass
        changed.append(sent["path"])
if changed:
    print("SKYWARD-CHANGED " + json.dumps(changed), flush=True)
    sys.exit(3)
made = set()
for file in DATA["files"]:
    target = os.path.join(work, file["path"])
    folder = os.path.dirname(target)
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)
    # a copy, never a link: a task that writes into its file must not change the store
    shutil.copyfile(os.path.join(store, file["hash"]), target)
    os.chmod(target, 0o755 if file["executable"] else 0o644)
print("SKYWARD-WORKDIR %d" % len(DATA["files"]), flush=True)
`
