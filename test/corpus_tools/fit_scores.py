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

Usage: /usr/bin/python3 test/corpus_tools/fit_scores.py [--out conf/scores.d]
Environment: RSPAMD_BUILD (build dir), CORPUS_DIR.
Existing conf/scores.d files are moved aside during the scan so the scan
sees the rules' defaults (only which symbols fire matters, not weights).
"""
import argparse
import datetime
import math
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_scan  # noqa: E402

# Symbols with a meaning of their own, not a spam/ham sign to weigh.
# FROM_HAS_DN, FROM_NO_DN, RCVD_COUNT_ZERO and MIME_GOOD describe nearly every
# message; fitted, they act as an intercept and reward what spam can copy.
FIXED = {"GTUBE", "TASK_TIMEOUT", "MIME_TRACE", "FROM_HAS_DN", "FROM_NO_DN",
         "RCVD_COUNT_ZERO", "MIME_GOOD"}
ADD_HEADER = 6.0


def collect(args):
    files = corpus_scan.split_files(corpus_scan.TRAIN)
    scores_d = os.path.join(corpus_scan.REPO, "conf", "scores.d")
    aside = None
    if os.path.isdir(scores_d):
        aside = tempfile.mkdtemp(prefix="scores.d-")
        shutil.move(scores_d, os.path.join(aside, "scores.d"))
    try:
        d = corpus_scan.start_daemon(workers=2)
    finally:
        if aside:
            shutil.move(os.path.join(aside, "scores.d"), scores_d)
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
    X = [[idx[s] for s in syms if s in idx] for syms, _ in rows]
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
            z = b + sum(w[j] for j in xi)
            p = 1.0 / (1.0 + math.exp(-z)) if z > -35 else 0.0
            e = ci * (p - yi)
            gb += e
            for j in xi:
                g[j] += e
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


def evaluate(rows, weights):
    ham_fp = spam_tp = n_ham = n_spam = 0
    for syms, spam in rows:
        s = sum(weights.get(x, 0.0) for x in syms)
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(corpus_scan.REPO, "conf", "scores.d"))
    ap.add_argument("--l2", type=float, default=0.002)
    ap.add_argument("--epochs", type=int, default=600)
    ap.add_argument("--min-hits", type=int, default=5)
    ap.add_argument("--max-fp", type=float, default=0.005)
    ap.add_argument("--min-weight", type=float, default=-2.0)
    ap.add_argument("--max-weight", type=float, default=8.0)
    args = ap.parse_args()

    defs = corpus_scan.symbol_defs()
    rows = collect(args)
    n_ham = sum(1 for _, s in rows if not s)
    n_spam = len(rows) - n_ham
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
        sys.exit("no scale keeps TRAIN false positives under %.2f%%" % (100 * args.max_fp))
    scale, tp, fp, weights = best
    unknown = sorted(x for x in counts if x not in defs)
    print("TRAIN: %d ham, %d spam; %d symbols fitted, %d kept at default"
          % (n_ham, n_spam, len(feats), len(fixed_w)))
    print("intercept %.3f, scale %.2f: TRAIN FP %.2f%%, spam detected %.2f%% (score >= %g)"
          % (b, scale, 100 * fp, 100 * tp, ADD_HEADER))
    if unknown:
        print("fired but not found in the sources (not written):", " ".join(unknown))
    for f in sorted(raw, key=lambda k: -weights[k]):
        h, s = counts.get(f, (0, 0))
        print("  %-28s %6.2f  (ham %4d, spam %4d)" % (f, weights[f], h, s))
    meta = ["command: /usr/bin/python3 test/corpus_tools/fit_scores.py " + " ".join(sys.argv[1:]),
            "date: %s" % datetime.date.today().isoformat(),
            "TRAIN: %d ham (easy-ham-1, hard-ham-1), %d spam (spam-1)" % (n_ham, n_spam),
            "logistic regression l2=%g epochs=%d, scale %.2f, caps [%g, %g]"
            % (args.l2, args.epochs, scale, args.min_weight, args.max_weight),
            "TRAIN at add_header (%g): FP %.2f%%, spam detected %.2f%%"
            % (ADD_HEADER, 100 * fp, 100 * tp)]
    write_scores(args.out, {k: v for k, v in weights.items() if k not in FIXED},
                 set(raw), defs, counts, meta)
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
