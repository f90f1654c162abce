"""Grid search over an SVC pipeline on the digits data set: 32 candidates x 5 folds = 160 fits.

Plain scikit-learn: run it with `python grid_search.py` (loky on this machine) or unchanged with
`skyward run --plugin sklearn grid_search.py`, where n_jobs=-1 means every slot of the pool.
"""
import json

from joblib import effective_n_jobs
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
pipe = Pipeline([("scaler", StandardScaler()), ("clf", SVC())])
param_grid = {
    "clf__C": [0.1, 1, 10, 100],
    "clf__gamma": ["scale", "auto", 0.01, 0.001],
    "clf__kernel": ["rbf", "poly"],
}
grid = GridSearchCV(pipe, param_grid, cv=5, n_jobs=-1, verbose=1)
grid.fit(X_train, y_train)

print(f"n_jobs=-1 means {effective_n_jobs(-1)} workers")
print("result: best_params", json.dumps(grid.best_params_, sort_keys=True))
print("result: best_cv_score", repr(float(grid.best_score_)))
print("result: test_score", repr(float(grid.score(X_test, y_test))))
print("result: mean_test_scores", json.dumps([float(s) for s in grid.cv_results_["mean_test_score"]]))
