"""Recursive feature elimination with 5-fold cross-validation on a synthetic problem."""
import json

from sklearn.datasets import make_classification
from sklearn.feature_selection import RFECV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

X, y = make_classification(n_samples=600, n_features=20, n_informative=5, n_redundant=3, random_state=0)
selector = RFECV(LogisticRegression(max_iter=1000), step=1, cv=StratifiedKFold(5), n_jobs=-1)
selector.fit(X, y)

print("result: n_features", int(selector.n_features_))
print("result: support", json.dumps([bool(s) for s in selector.support_]))
print("result: mean_scores", json.dumps([float(s) for s in selector.cv_results_["mean_test_score"]]))
