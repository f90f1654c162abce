"""A soft-voting ensemble whose members are fitted in parallel, then cross-validated in parallel."""
import json

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_breast_cancer(return_X_y=True)
voting = VotingClassifier(
    [
        ("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
        ("rf", RandomForestClassifier(n_estimators=100, random_state=0)),
        ("nb", GaussianNB()),
    ],
    voting="soft",
    n_jobs=-1,
)
voting.fit(X, y)
scores = cross_val_score(voting, X, y, cv=5, n_jobs=-1)

print("result: train_accuracy", repr(float(voting.score(X, y))))
print("result: cv_scores", json.dumps([float(s) for s in scores]))
