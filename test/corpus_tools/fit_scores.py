#!/usr/bin/python3
"""Fits the weights of the default rule set on the corpus TRAIN split and
writes conf/scores.d/<group>_group.conf.

1. Starts our daemon (2 workers) from the repo's conf and scans every
   TRAIN message (easy-ham-1 + hard-ham-1 ham, spam-1 spam) with
   `Pass: all`, keeping which symbols fired.
2. Fits an L2-regularised logistic regression (plain Python, full-batch
   gradient descent with AdaGrad steps; ham and spam weighted so both
   classes count equally). A weight keeps the sign of its rule's default:
   a rule written as a spam sign never becomes a ham sign because of a
   few coincidences in the corpus, and the reverse.
3. Scales the weights so the thresholds keep their meaning: the largest
   scale (from a grid) at which TRAIN ham reaching add_header (6) stays
   at or under --max-fp (default 0.5%), after capping each weight to
   [--min-weight, --max-weight].
4. Writes one file per group. Symbols that fired fewer than --min-hits
   times keep their default weight (written as such, with a comment).

With --bayes-cv the fit is joint with the Bayes classifier: features come
from bayes_cv.py (k-fold CV on TRAIN: each fold scanned by a daemon whose
Bayes learnt only the other folds), BAYES_SPAM / BAYES_HAM carry their
factor as feature value and get weights of their own (written to
statistics_group.conf, which overrides the classifier's defaults through
the engine's group overrides). --margins compares Bayes margins by an
outer CV (weights fitted on k-1 folds, verdict counted on the held-out
one); the best margin is used for the final fit on all of TRAIN (set the
same margin in conf/statistic.conf). --blocked makes the folds contiguous
per corpus group, a drift-like split.

Usage:
  rules alone (as before):
    /usr/bin/python3 test/corpus_tools/fit_scores.py [--out conf/scores.d]
  jointly with Bayes (how conf/scores.d was written):
    RSPAMD_BUILD=build-rel /usr/bin/python3 test/corpus_tools/fit_scores.py \
        --bayes-cv --blocked --max-fp 0.003 --margins 0.4 [--cache /tmp/cv.json]
  compare margins without writing:
    ... --bayes-cv --blocked --max-fp 0.003 --margins 0.2,0.3,0.4,0.45 --dry-run
Environment: RSPAMD_BUILD (build dir), CORPUS_DIR.
The daemon's copy of conf/scores.d is emptied before the scan so the scan
sees the rules' defaults (only which symbols fire matters, not weights;
BAYES_* scores are divided back into factors by their default weights).
"""
import argparse
import datetime
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bayes_cv  # noqa: E402
import corpus_scan  # noqa: E402

# Symbols with a meaning of their own, not a spam/ham sign to weigh.
# FROM_HAS_DN, FROM_NO_DN, RCVD_COUNT_ZERO and MIME_GOOD describe nearly every
# message; fitted, they act as an intercept and reward what spam can copy.
FIXED = {"GTUBE", "TASK_TIMEOUT", "MIME_TRACE", "FROM_HAS_DN", "FROM_NO_DN",
         "RCVD_COUNT_ZERO", "MIME_GOOD"}
ADD_HEADER = 6.0


def collect(args):
    files = corpus_scan.split_files(corpus_scan.TRAIN)
    d = bayes_cv.default_weights_daemon()
    try:
        replies = corpus_scan.scan_all(d.port, [p for p, _ in files], pass_all=True)
    finally:
        d.stop()
    rows = []
    for (path, spam), r in zip(files, replies):
        rows.append((set(r.get("symbols", {})), spam))
    return rows


def fit(rows, feats, signs, l2, epochs):
    idx = {f: i for i, f in enumerate(feats)}
    X = [[(idx[s], value(syms, s)) for s in syms if s in idx] for syms, _ in rows]
    y = [1.0 if spam else 0.0 for _, spam in rows]
    n_spam = sum(y)
    n_ham = len(y) - n_spam
    cw = [0.5 * len(y) / n_spam if t else 0.5 * len(y) / n_ham for t in y]
    n = len(feats)
    w = [0.0] * n
    b = 0.0
    gw2 = [1e-8] * n
    gb2 = 1e-8
    lr = 0.5
    for _ in range(epochs):
        g = [0.0] * n
        gb = 0.0
        for xi, yi, ci in zip(X, y, cw):
            z = b + sum(w[j] * v for j, v in xi)
            p = 1.0 / (1.0 + math.exp(-z)) if z > -35 else 0.0
            e = ci * (p - yi)
            gb += e
            for j, v in xi:
                g[j] += e * v
        m = float(len(y))
        for j in range(n):
            gj = g[j] / m + l2 * w[j]
            gw2[j] += gj * gj
            w[j] -= lr * gj / math.sqrt(gw2[j])
            if signs[j] > 0 and w[j] < 0:
                w[j] = 0.0
            elif signs[j] < 0 and w[j] > 0:
                w[j] = 0.0
        gb /= m
        gb2 += gb * gb
        b -= lr * gb / math.sqrt(gb2)
    return w, b


def value(syms, name):
    """A symbol's feature value: its factor when rows carry factors."""
    return syms[name] if isinstance(syms, dict) else 1.0


def evaluate(rows, weights):
    ham_fp = spam_tp = n_ham = n_spam = 0
    for syms, spam in rows:
        s = sum(weights.get(x, 0.0) * value(syms, x) for x in syms)
        if spam:
            n_spam += 1
            spam_tp += s >= ADD_HEADER
        else:
            n_ham += 1
            ham_fp += s >= ADD_HEADER
    return ham_fp / max(n_ham, 1), spam_tp / max(n_spam, 1)


def choose_scale(rows, raw, fixed_w, args):
    best = None
    for k in range(1, 400):
        s = k * 0.05
        wts = dict(fixed_w)
        for f, v in raw.items():
            wts[f] = max(args.min_weight, min(args.max_weight, round(v * s, 2)))
        fp, tp = evaluate(rows, wts)
        if fp <= args.max_fp and (best is None or tp > best[1] + 1e-9):
            best = (s, tp, fp, wts)
    return best


def write_scores(out, weights, fitted, defs, counts, meta):
    os.makedirs(out, exist_ok=True)
    groups = {}
    for name, w in weights.items():
        groups.setdefault(defs[name][1], []).append(name)
    for old in os.listdir(out):
        if old.endswith("_group.conf"):
            os.unlink(os.path.join(out, old))
    for g, names in sorted(groups.items()):
        with open(os.path.join(out, "%s_group.conf" % g), "w") as f:
            f.write("# Weights of group %s, fitted on the corpus TRAIN split.\n" % g)
            for line in meta:
                f.write("# %s\n" % line)
            f.write("# (hits: ham/spam messages of TRAIN where the symbol fired)\n")
            f.write('group "%s" {\n\tsymbols {\n' % g)
            for name in sorted(names):
                h, s = counts.get(name, (0, 0))
                note = "fitted" if name in fitted else "default kept, too few hits"
                f.write("\t\t%s { weight = %.2f; } # %s; hits %d/%d\n"
                        % (name, weights[name], note, h, s))
            f.write("\t}\n}\n")


def fit_weights(rows, defs, args):
    """Fits on rows [(symbols, is_spam)]; returns (weights, fitted, scale,
    intercept, TRAIN fp, TRAIN tp, counts) or None if no scale fits."""
    counts = {}
    for syms, spam in rows:
        for x in syms:
            h, s = counts.get(x, (0, 0))
            counts[x] = (h + (not spam), s + spam)
    feats = sorted(f for f in defs if f not in FIXED and
                   sum(counts.get(f, (0, 0))) >= args.min_hits)
    signs = [1 if defs[f][0] > 0 else (-1 if defs[f][0] < 0 else 0) for f in feats]
    w, b = fit(rows, feats, signs, args.l2, args.epochs)
    raw = dict(zip(feats, w))
    fixed_w = {f: defs[f][0] for f in defs if f not in raw}
    best = choose_scale(rows, raw, fixed_w, args)
    if best is None:
        return None
    scale, tp, fp, weights = best
    return weights, set(raw), scale, b, fp, tp, counts


def with_margin(cv_rows, margin):
    """CV rows with BAYES_* dropped where the factor is under 2 * margin
    (what the daemon does with that margin)."""
    out = []
    for f, spam, fold in cv_rows:
        g = {k: v for k, v in f.items() if k not in bayes_cv.BAYES_DEFAULTS or v >= 2 * margin}
        out.append((g, spam, fold))
    return out


def outer_cv(rows, defs, args):
    """Fits on k-1 folds, counts FP/FN at add_header on the held-out fold."""
    fp = fn = n_ham = n_spam = 0
    fp_idx = []
    for k in sorted(set(r[2] for r in rows)):
        res = fit_weights([(f, s) for f, s, g in rows if g != k], defs, args)
        if res is None:
            return None
        weights = res[0]
        for i, (f, spam, g) in enumerate(rows):
            if g != k:
                continue
            score = sum(weights.get(x, 0.0) * v for x, v in f.items())
            if spam:
                n_spam += 1
                fn += score < ADD_HEADER
            else:
                n_ham += 1
                fp += score >= ADD_HEADER
                if score >= ADD_HEADER:
                    fp_idx.append(i)
    return fp, n_ham, fn, n_spam, fp_idx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(corpus_scan.REPO, "conf", "scores.d"))
    ap.add_argument("--l2", type=float, default=0.002)
    ap.add_argument("--epochs", type=int, default=600)
    ap.add_argument("--min-hits", type=int, default=5)
    ap.add_argument("--max-fp", type=float, default=0.005)
    ap.add_argument("--min-weight", type=float, default=-2.0)
    ap.add_argument("--max-weight", type=float, default=8.0)
    ap.add_argument("--bayes-cv", action="store_true",
                    help="fit jointly with out-of-fold Bayes (bayes_cv.py), incl. BAYES_* weights")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--bayes", default="", help="extra classifier-bayes.conf text for the CV")
    ap.add_argument("--margins", default="0.4",
                    help="Bayes margins to compare by outer CV (comma-separated); the best is used")
    ap.add_argument("--cache", default=None, help="JSON cache of the CV scan (bayes_cv.py)")
    ap.add_argument("--blocked", action="store_true",
                    help="contiguous CV folds per group (bayes_cv.fold_of), a drift-like split")
    ap.add_argument("--dry-run", action="store_true", help="do not write --out")
    args = ap.parse_args()

    defs = corpus_scan.symbol_defs()
    margin = None
    if args.bayes_cv:
        for name, w in bayes_cv.BAYES_DEFAULTS.items():
            defs[name] = (w, "statistics")
        cv_rows = bayes_cv.cached(args.cache, args.folds, args.bayes, blocked=args.blocked)
        best = None
        for m in [float(x) for x in args.margins.split(",")]:
            r = outer_cv(with_margin(cv_rows, m), defs, args)
            if r is None:
                print("margin %.2f: no scale fits" % m)
                continue
            fp, nh, fn, ns, fp_idx = r
            n_easy = len(corpus_scan.conftest.corpus_files("easy-ham-1"))
            easy = sum(1 for i in fp_idx if i < n_easy)
            print("TRAIN %d-fold CV, margin %.2f: whole verdict FP %.2f%% (%d/%d; easy-ham %d, "
                  "hard-ham %d)  FN %.2f%% (%d/%d)"
                  % (args.folds, m, 100.0 * fp / nh, fp, nh, easy, fp - easy,
                     100.0 * fn / ns, fn, ns))
            sys.stdout.flush()
            if best is None or (fn + 5 * fp) < best[1]:
                best = (m, fn + 5 * fp, r)
        if best is None:
            sys.exit("no margin fits")
        margin, _, cvres = best
        rows = [(f, s) for f, s, _ in with_margin(cv_rows, margin)]
    else:
        rows = [(set(x), s) for x, s in collect(args)]
    res = fit_weights(rows, defs, args)
    if res is None:
        sys.exit("no scale keeps TRAIN false positives under %.2f%%" % (100 * args.max_fp))
    weights, fitted, scale, b, fp, tp, counts = res
    n_ham = sum(1 for _, s in rows if not s)
    n_spam = len(rows) - n_ham
    unknown = sorted(x for x in counts if x not in defs)
    print("TRAIN: %d ham, %d spam; %d symbols fitted, %d kept at default"
          % (n_ham, n_spam, len(fitted), len(defs) - len(fitted)))
    print("intercept %.3f, scale %.2f: TRAIN FP %.2f%%, spam detected %.2f%% (score >= %g)"
          % (b, scale, 100 * fp, 100 * tp, ADD_HEADER))
    if unknown:
        print("fired but not found in the sources (not written):", " ".join(unknown))
    for f in sorted(fitted, key=lambda k: -weights[k]):
        h, s = counts.get(f, (0, 0))
        print("  %-28s %6.2f  (ham %4d, spam %4d)" % (f, weights[f], h, s))
    meta = ["command: /usr/bin/python3 test/corpus_tools/fit_scores.py " + " ".join(sys.argv[1:]),
            "date: %s" % datetime.date.today().isoformat(),
            "TRAIN: %d ham (easy-ham-1, hard-ham-1), %d spam (spam-1)" % (n_ham, n_spam),
            "logistic regression l2=%g epochs=%d, scale %.2f, caps [%g, %g]"
            % (args.l2, args.epochs, scale, args.min_weight, args.max_weight),
            "TRAIN at add_header (%g): FP %.2f%%, spam detected %.2f%%"
            % (ADD_HEADER, 100 * fp, 100 * tp)]
    if margin is not None:
        fpc, nh, fnc, ns, _ = cvres
        meta[-1] += " (features from out-of-fold Bayes)"
        meta.append("Bayes margin %.2f; outer %d-fold CV on TRAIN: FP %.2f%%, FN %.2f%%"
                    % (margin, args.folds, 100.0 * fpc / nh, 100.0 * fnc / ns))
    if not args.dry_run:
        write_scores(args.out, {k: v for k, v in weights.items() if k not in FIXED},
                     fitted, defs, counts, meta)
        print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
