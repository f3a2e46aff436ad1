#!/usr/bin/env python3
"""Statistics of a synthetic cohort from its volume table (numens synth --stats out.csv).

Prints, for the main regions (left + right summed): mean volume, slope in % of the mean per year
and Pearson r with age, raw and normalised by total intracranial volume (TIV); then, per age band,
the mean volume of a few regions scaled to the cohort's mean TIV, and the annual change between
bands (the literature's "% per year after 40 / after 60" figures); then a brain-age
sanity check: ridge regression of age on the TIV-normalised regional volumes (all labels),
10-fold cross-validated with the ridge penalty chosen by an inner 5-fold CV, against predicting
the training mean. Standard library only (no numpy), so it runs on a bare Debian.

Usage: scripts/synth_stats.py volumes.csv [--markdown]
"""
import csv
import math
import random
import sys

def is_brain(n):
    """Brain tissue: every label but CSF and the lateral ventricles."""
    return n != "CSF" and not n.endswith("Lateral-Ventricle")


MAIN = [
    ("Total brain (GM + WM)", is_brain),
    ("Cortex (all lobes)", lambda n: n.startswith("ctx-")),
    ("Frontal cortex", lambda n: n.endswith("-frontal")),
    ("Temporal cortex", lambda n: n.endswith("-temporal")),
    ("Occipital cortex", lambda n: n.endswith("-occipital")),
    ("Cerebral white matter", lambda n: n.endswith("Cerebral-White-Matter")),
    ("Lateral ventricles", lambda n: n.endswith("Lateral-Ventricle")),
    ("CSF (extraventricular)", lambda n: n == "CSF"),
    ("Hippocampus", lambda n: n.endswith("Hippocampus")),
    ("Amygdala", lambda n: n.endswith("Amygdala")),
    ("Thalamus", lambda n: n.endswith("Thalamus")),
    ("Caudate", lambda n: n.endswith("Caudate")),
    ("Putamen", lambda n: n.endswith("Putamen")),
    ("Pallidum", lambda n: n.endswith("Pallidum")),
    ("Cerebellum cortex + vermis", lambda n: n.endswith("Cerebellum-Cortex") or n == "Cerebellar-Vermis"),
]


def pearson(x, y):
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy), sxy / sxx  # r, slope of y on x


def solve(a, b):
    """Gaussian elimination with partial pivoting; a is n x n, b length n."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for k in range(c, n + 1):
                m[r][k] -= f * m[c][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


def ridge_fit(X, y, alpha):
    """Standardise features on the training set, centre y, solve (X'X + alpha I) w = X'y."""
    n, p = len(X), len(X[0])
    mu = [sum(r[j] for r in X) / n for j in range(p)]
    sd = [math.sqrt(sum((r[j] - mu[j]) ** 2 for r in X) / n) or 1.0 for j in range(p)]
    Z = [[(r[j] - mu[j]) / sd[j] for j in range(p)] for r in X]
    my = sum(y) / n
    A = [[sum(z[i] * z[j] for z in Z) + (alpha if i == j else 0.0) for j in range(p)] for i in range(p)]
    b = [sum(z[i] * (t - my) for z, t in zip(Z, y)) for i in range(p)]
    w = solve(A, b)
    return lambda r: my + sum(w[j] * (r[j] - mu[j]) / sd[j] for j in range(p))


def folds(n, k, seed):
    idx = list(range(n))
    random.Random(seed).shuffle(idx)
    return [idx[f::k] for f in range(k)]


BANDS = [(20, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 80), (80, 90)]
BAND_REGIONS = ["Total brain (GM + WM)", "Cortex (all lobes)", "Cerebral white matter",
                "Hippocampus", "Lateral ventricles"]


def band_table(rows, labels, age, tiv, md):
    """Mean volume per age band, each subject scaled to the cohort's mean TIV (head size removed),
    and the mean annual change between consecutive bands, in % per year of the earlier band."""
    mtiv = sum(tiv) / len(tiv)
    sel = dict(MAIN)
    vols = {}
    for name in BAND_REGIONS:
        cols = [c for c in labels if sel[name](c)]
        vols[name] = [sum(float(r[c]) for c in cols) * mtiv / t for r, t in zip(rows, tiv)]
    hdr = ["age", "n"] + [f"{n} mL" for n in BAND_REGIONS]
    print()
    print(f"Per age band, volumes scaled to the mean TIV ({mtiv:.0f} mL); in brackets the change "
          "from the previous band, % per year")
    if md:
        print("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr))
    prev = None
    for lo, hi in BANDS:
        idx = [i for i, a in enumerate(age) if lo <= a < hi]
        if not idx:
            continue
        ma = sum(age[i] for i in idx) / len(idx)
        cells = [f"{lo}-{hi}", str(len(idx))]
        means = {}
        for name in BAND_REGIONS:
            m = sum(vols[name][i] for i in idx) / len(idx)
            means[name] = m
            cell = f"{m:.1f}"
            if prev:
                pa, pm = prev
                cell += f" ({100 * (m / pm[name] - 1) / (ma - pa):+.2f})"
            cells.append(cell)
        prev = (ma, means)
        print(("| " + " | ".join(cells) + " |") if md else "  ".join(f"{c:>16}" for c in cells))
    first = [i for i, a in enumerate(age) if a < 30]
    old = [i for i, a in enumerate(age) if 75 <= a < 85]
    if first and old:
        v = vols["Lateral ventricles"]
        ratio = (sum(v[i] for i in old) / len(old)) / (sum(v[i] for i in first) / len(first))
        print(f"lateral ventricles, mean at 75-85 / mean at 20-30: {ratio:.2f}x; "
              f"range {min(v):.1f}-{max(v):.1f} mL (TIV-scaled)")


ALPHAS = [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]


def cv_mae(X, y, k=10, seed=0):
    model_err, mean_err = [], []
    for test in folds(len(y), k, seed):
        ts = set(test)
        tr = [i for i in range(len(y)) if i not in ts]
        Xtr, ytr = [X[i] for i in tr], [y[i] for i in tr]
        # Inner CV on the training part picks the penalty (no peeking at the test fold).
        best = None
        for a in ALPHAS:
            e = 0.0
            for inner in folds(len(tr), 5, seed + 1):
                ins = set(inner)
                itr = [i for i in range(len(tr)) if i not in ins]
                f = ridge_fit([Xtr[i] for i in itr], [ytr[i] for i in itr], a)
                e += sum(abs(f(Xtr[i]) - ytr[i]) for i in inner)
            if best is None or e < best[0]:
                best = (e, a)
        f = ridge_fit(Xtr, ytr, best[1])
        m = sum(ytr) / len(ytr)
        for i in test:
            model_err.append(abs(f(X[i]) - y[i]))
            mean_err.append(abs(m - y[i]))
    return sum(model_err) / len(y), sum(mean_err) / len(y)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    labels = [c for c in rows[0].keys() if c not in ("id", "age", "sex", "tiv_ml")]
    age = [float(r["age"]) for r in rows]
    tiv = [float(r["tiv_ml"]) for r in rows]
    md = "--markdown" in sys.argv
    print(f"{len(rows)} subjects, age {min(age):.1f}-{max(age):.1f}, TIV {sum(tiv)/len(tiv):.0f} mL mean")
    hdr = ("region", "mean mL", "slope %/yr", "r (raw)", "slope %/yr /TIV", "r (/TIV)")
    if md:
        print("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr))
    else:
        print("%-28s %9s %11s %8s %15s %9s" % hdr)
    for name, sel in MAIN:
        cols = [c for c in labels if sel(c)]
        v = [sum(float(r[c]) for c in cols) for r in rows]
        vn = [a / t for a, t in zip(v, tiv)]
        r_raw, s_raw = pearson(age, v)
        r_n, s_n = pearson(age, vn)
        mv, mn = sum(v) / len(v), sum(vn) / len(vn)
        vals = (name, f"{mv:.1f}", f"{100*s_raw/mv:+.3f}", f"{r_raw:+.3f}", f"{100*s_n/mn:+.3f}", f"{r_n:+.3f}")
        print(("| " + " | ".join(vals) + " |") if md else "%-28s %9s %11s %8s %15s %9s" % vals)
    band_table(rows, labels, age, tiv, md)
    X = [[float(r[c]) / t for c in labels] for r, t in zip(rows, tiv)]
    mae, mae_mean = cv_mae(X, age)
    print(f"brain age, ridge on {len(labels)} TIV-normalised volumes, 10-fold CV: MAE {mae:.2f} y; "
          f"predicting the training mean: MAE {mae_mean:.2f} y")


if __name__ == "__main__":
    main()
