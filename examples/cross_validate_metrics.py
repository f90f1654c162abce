"""cross_validate with several metrics at once: 5 folds, each scored three ways."""
import json

from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_validate

X, y = load_wine(return_X_y=True)
result = cross_validate(
    RandomForestClassifier(n_estimators=50, random_state=0),
    X,
    y,
    cv=5,
    scoring=["accuracy", "f1_macro", "balanced_accuracy"],
    n_jobs=-1,
)
for metric in ["test_accuracy", "test_f1_macro", "test_balanced_accuracy"]:
    print(f"result: {metric}", json.dumps([float(s) for s in result[metric]]))
