"""10-fold cross-validation of a random forest on digits: 10 fits spread over the pool."""
import json

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

X, y = load_digits(return_X_y=True)
clf = RandomForestClassifier(n_estimators=100, random_state=0)
scores = cross_val_score(clf, X, y, cv=10, n_jobs=-1)

print("result: scores", json.dumps([float(s) for s in scores]))
print("result: mean", repr(float(scores.mean())), "std", repr(float(scores.std())))
