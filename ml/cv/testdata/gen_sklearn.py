#!/usr/bin/python3
"""Writes sklearn_folds.json: fold assignments from scikit-learn's KFold and
StratifiedKFold, the reference that ml/cv's fold rule must reproduce.
Run with Debian's /usr/bin/python3 (python3-sklearn)."""
import json
import numpy as np
import sklearn
from sklearn.model_selection import KFold, StratifiedKFold

cases = []
def fold_of(splitter, n, y):
    f = [-1] * n
    for i, (_, test) in enumerate(splitter.split(np.zeros((n, 1)), y)):
        for j in test:
            f[int(j)] = i
    return f

rs = np.random.RandomState(12345)
perms = []
for seed in [0, 1, 42, 2**32 - 1]:
    perms.append({"seed": seed, "n": 50, "perm": [int(v) for v in np.random.RandomState(seed).permutation(50)]})
for n, k in [(10, 2), (10, 3), (11, 5), (100, 7), (1000, 10)]:
    for shuffle, seed in [(False, None), (True, 0), (True, 7), (True, 4294967295)]:
        y = None
        cases.append({"kind": "kfold", "n": n, "k": k, "shuffle": shuffle, "seed": seed or 0,
                      "fold": fold_of(KFold(k, shuffle=shuffle, random_state=seed), n, y)})
for n, k, nc in [(20, 2, 2), (30, 3, 4), (101, 5, 3), (500, 10, 10), (257, 4, 7)]:
    # unbalanced labels with arbitrary values, not sorted
    y = [int(v) for v in rs.choice(np.arange(nc) * 3 + 5, size=n, p=np.linspace(1, 2, nc) / np.linspace(1, 2, nc).sum())]
    for shuffle, seed in [(False, None), (True, 0), (True, 99), (True, 123456789)]:
        cases.append({"kind": "stratified", "n": n, "k": k, "shuffle": shuffle, "seed": seed or 0, "labels": y,
                      "fold": fold_of(StratifiedKFold(k, shuffle=shuffle, random_state=seed), n, y)})
json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "permutations": perms, "cases": cases},
          open("sklearn_folds.json", "w"), separators=(",", ":"))
print(len(cases), "cases, sklearn", sklearn.__version__)

# Metrics: scikit-learn's accuracy, macro/per-class precision, recall, F1
# (zero_division=0) and confusion matrix on random predictions.
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, confusion_matrix
mr = np.random.RandomState(7)
mcases = []
for n, k, skew in [(10, 3, 0), (200, 5, 0), (1000, 10, 1), (50, 4, 2), (7, 6, 0)]:
    y = mr.randint(0, k, size=n)
    p = y.copy()
    flip = mr.rand(n) < 0.3
    p[flip] = mr.randint(0, k, size=flip.sum())
    if skew == 2:
        p[:] = np.where(p == 3, 0, p)  # class 3 never predicted
        y[:5] = 1
    labels = list(range(k))
    pr, rc, f1, sup = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    mp, mrc, mf, _ = precision_recall_fscore_support(y, p, average="macro", zero_division=0)
    mcases.append({"k": k, "truth": [int(v) for v in y], "pred": [int(v) for v in p],
                   "accuracy": accuracy_score(y, p), "precision_macro": mp, "recall_macro": mrc, "f1_macro": mf,
                   "precision": list(map(float, pr)), "recall": list(map(float, rc)), "f1": list(map(float, f1)),
                   "support": [int(v) for v in sup],
                   "confusion": [int(v) for v in confusion_matrix(y, p, labels=labels).ravel()]})
json.dump({"sklearn": sklearn.__version__, "cases": mcases}, open("sklearn_metrics.json", "w"), separators=(",", ":"))
print(len(mcases), "metric cases")
