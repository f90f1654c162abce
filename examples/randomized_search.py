"""Randomized search over a small MLP on digits: 8 candidates x 3 folds."""
import json

from scipy.stats import loguniform
from sklearn.datasets import load_digits
from sklearn.model_selection import RandomizedSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_digits(return_X_y=True)
pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=60, random_state=0))
space = {
    "mlpclassifier__alpha": loguniform(1e-5, 1e-1),
    "mlpclassifier__hidden_layer_sizes": [(32,), (64,), (32, 16)],
    "mlpclassifier__learning_rate_init": loguniform(1e-3, 1e-2),
}
search = RandomizedSearchCV(pipe, space, n_iter=8, cv=3, n_jobs=-1, random_state=0)
search.fit(X, y)

print("result: best_params", json.dumps({k: (list(v) if isinstance(v, tuple) else v) for k, v in search.best_params_.items()}, sort_keys=True))
print("result: best_score", repr(float(search.best_score_)))
