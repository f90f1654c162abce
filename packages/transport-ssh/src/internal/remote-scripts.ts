/**
 * Python programs run on the host with its own `python3` (fed on stdin, arguments as JSON). The
 * probe avoids newer syntax so that an old interpreter still answers with its version.
 */

/** Reports the interpreter, platform and what of Skyward's cache already exists. */
export const PROBE_SCRIPT = String.raw`
import json, os, platform, sys
spec = json.loads(sys.argv[1])
root = os.path.join(os.path.expanduser("~"), spec["root"]) if not spec["root"].startswith("/") else spec["root"]
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
    "envReady": os.path.exists(os.path.join(root, spec["env"], ".skyward-ready")) if spec.get("env") else False,
    "modules": [m for m in spec.get("modules", []) if os.path.exists(os.path.join(root, m, ".skyward-complete"))],
}
sys.stdout.write("SKYWARD-PROBE " + json.dumps(out) + "\n")
`

/**
 * Makes the environment once: takes an exclusive flock next to it (two pools bootstrapping the
 * same host wait for each other), reuses it when its marker exists, else (re)creates the venv and
 * installs from the uploaded wheels (no index) or from an index, then writes the marker.
 */
export const ENV_SCRIPT = String.raw`
import fcntl, json, os, shutil, signal, subprocess, sys
spec = json.loads(sys.argv[1])
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
        for url in spec["indexes"]:
            pip += ["--extra-index-url", url]
        pip += spec["requirements"]
    code = subprocess.call(pip, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
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
    with open(marker, "w") as f:
        json.dump({"python": sys.version.split()[0], "requirements": spec["requirements"]}, f)
    print("SKYWARD-ENV built", flush=True)
`
