"""What the tests that start the real engine (apps/cli/dist/bin.js) share: where it is, the variables
of conftest's pool that must not leak into theirs, and the workers' pins."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "apps" / "cli" / "dist" / "bin.js"
POOL_VARIABLES = ("SKYWARD_BRIDGE", "SKYWARD_TOKEN", "SKYWARD_WORKDIR_REPORT")


def pins() -> list[str]:
    """The five pins of the other test pools (conftest.py, apps/cli/test/loky.ts): one cached
    environment with scikit-learn for all of them."""
    import cloudpickle
    import joblib
    import numpy
    import scipy
    import sklearn

    return [f"joblib=={joblib.__version__}", f"numpy=={numpy.__version__}", f"scipy=={scipy.__version__}",
            f"scikit-learn=={sklearn.__version__}", f"cloudpickle=={cloudpickle.__version__}"]
