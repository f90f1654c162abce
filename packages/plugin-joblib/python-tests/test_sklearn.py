"""scikit-learn under the skyward backend: its config reaches the workers, results match loky."""
from __future__ import annotations

import numpy as np
import pytest
import sklearn
from joblib import parallel_config
from sklearn.utils.parallel import Parallel, delayed
from tasks import config_value, whoami

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("pool")]


def test_sklearn_config_reaches_the_workers() -> None:
    with sklearn.config_context(assume_finite=True, working_memory=123):
        with parallel_config(backend="skyward"):
            finite = Parallel(n_jobs=-1)(delayed(config_value)("assume_finite") for _ in range(8))
            memory = Parallel(n_jobs=-1)(delayed(config_value)("working_memory") for _ in range(8))
            where = Parallel(n_jobs=-1, batch_size=1)(delayed(whoami)(0.1) for _ in range(8))
    assert finite == [True] * 8
    assert memory == [123] * 8
    assert {node for node, _ in where} == {"0", "1"}
    assert sklearn.get_config()["assume_finite"] is False


def _grid_search():  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    pipe = Pipeline([("scaler", StandardScaler()), ("clf", SVC())])
    grid = {"clf__C": [0.1, 1, 10], "clf__gamma": ["scale", 0.001], "clf__kernel": ["rbf", "poly"]}
    return GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)


def test_grid_search_matches_loky() -> None:
    with parallel_config(backend="loky"):
        local = _grid_search()
    with parallel_config(backend="skyward"):
        remote = _grid_search()
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    assert remote.best_score_ == local.best_score_


def test_cross_val_score_with_random_forest_matches_loky() -> None:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_val_score

    X, y = load_digits(return_X_y=True)

    def run():  # type: ignore[no-untyped-def]
        clf = RandomForestClassifier(n_estimators=20, random_state=0)
        return cross_val_score(clf, X, y, cv=4, n_jobs=-1)

    with parallel_config(backend="loky"):
        local = run()
    with parallel_config(backend="skyward"):
        remote = run()
    np.testing.assert_array_equal(local, remote)
