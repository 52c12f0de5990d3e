#!/usr/bin/python3
"""k-fold cross-validation of the whole verdict (rules + Bayes) on the
corpus TRAIN split, collecting out-of-fold features for score fitting.

For each fold: a fresh daemon (LMDB statistics in its own state dir)
learns the other folds through the controller (/learnspam, /learnham),
then scans the held-out fold over /checkv2 with `Pass: all`. Every
message of TRAIN is thus scanned exactly once by a Bayes that never saw
it. The Bayes margin is forced to 0 during collection, so BAYES_SPAM or
BAYES_HAM is present whenever the classifier speaks; its factor
(= (confidence - 0.5) * 2) is kept as the feature value, and any margin m
can be simulated afterwards: the symbol appears iff factor >= 2 m.

Folds are stratified: message i of each class (sorted order) goes to fold
i mod k. Results are cached as JSON (--cache) so fitting can be repeated
without rescanning; the cache key includes the extra classifier settings.

Usage:
  /usr/bin/python3 test/corpus_tools/bayes_cv.py [--folds 5] \
      [--bayes 'min_token_dev = 0.2;'] [--cache /tmp/bayes_cv.json] [--margins] [--blocked]
  (--margins prints Bayes-alone CV figures for a grid of margins)
Environment: RSPAMD_BUILD (build dir), CORPUS_DIR.
Used by fit_scores.py --bayes-cv.
"""
import argparse
import concurrent.futures
import hashlib
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_scan  # noqa: E402

BAYES_DEFAULTS = {"BAYES_SPAM": 5.1, "BAYES_HAM": -3.0}
THREADS = 4


def fold_of(files, k, blocked=False):
    """Fold index per file: i mod k within each class, or with blocked,
    contiguous blocks of each group's sorted (roughly chronological) list,
    so a held-out fold is a period the Bayes never saw, a milder form of
    the drift between TRAIN and TEST."""
    def key(path, spam):
        return os.path.basename(os.path.dirname(path)) if blocked else spam

    total = {}
    for path, spam in files:
        total[key(path, spam)] = total.get(key(path, spam), 0) + 1
    seen = {}
    out = []
    for path, spam in files:
        g = key(path, spam)
        i = seen.get(g, 0)
        out.append(i * k // total[g] if blocked else i % k)
        seen[g] = i + 1
    return out


def learn_all(port, items):
    local = threading.local()

    def one(item):
        path, spam = item
        with open(path, "rb") as f:
            body = f.read()
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("POST", "/learnspam" if spam else "/learnham", body)
            r = conn.getresponse()
            r.read()
            return r.status
        except (OSError, http.client.HTTPException):
            conn.close()
            local.conn = None
            return -1

    counts = {}
    with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
        for st in ex.map(one, items):
            counts[st] = counts.get(st, 0) + 1
    return counts


def features(reply):
    """{symbol: value}: 1 for a rule, the factor for BAYES_*."""
    out = {}
    for name, s in reply.get("symbols", {}).items():
        if name in BAYES_DEFAULTS:
            out[name] = round(float(s.get("score", 0.0)) / BAYES_DEFAULTS[name], 4)
        else:
            out[name] = 1.0
    return out


def default_weights_daemon(extra_local=None, workers=2):
    """A started daemon scanning with the rules' default weights, so BAYES_*
    scores divide back into factors: its own copy of scores.d is emptied
    (the repo's conf is left alone, others may be copying it)."""
    d = corpus_scan.conftest.Daemon(tempfile.mkdtemp(prefix="corpus-"), workers=workers,
                                    extra_local=extra_local)
    d.write_local("logging.inc",
                  'type = "file";\nfilename = "$LOGDIR/rspamd.log";\nlevel = "error";\n')
    shutil.rmtree(os.path.join(d.confdir, "scores.d"), ignore_errors=True)
    os.makedirs(os.path.join(d.confdir, "scores.d"))
    return d.start()


def collect(folds=5, bayes_extra="", verbose=True, blocked=False):
    """[(features, is_spam, fold)] for every TRAIN file, in file order."""
    files = corpus_scan.split_files(corpus_scan.TRAIN)
    fold = fold_of(files, folds, blocked)
    rows = [None] * len(files)
    local = {"classifier-bayes.conf": "autolearn = false;\nmargin = 0.0;\n"
             + bayes_extra + "\n"}
    for k in range(folds):
        d = default_weights_daemon(local)
        try:
            train = [f for f, g in zip(files, fold) if g != k]
            held = [i for i, g in enumerate(fold) if g == k]
            st = learn_all(d.controller_port, train)
            replies = corpus_scan.scan_all(d.port, [files[i][0] for i in held], pass_all=True)
        finally:
            d.stop()
            shutil.rmtree(d.tmp, ignore_errors=True)
        for i, r in zip(held, replies):
            rows[i] = (features(r), files[i][1], k)
        if verbose:
            print("fold %d/%d: learnt %d (%s), scanned %d" % (k + 1, folds, len(train), st,
                                                            len(held)), file=sys.stderr)
    return rows


def cached(cache, folds, bayes_extra, verbose=True, blocked=False):
    key = hashlib.sha1(("%d|%s|%s|%s" % (folds, bayes_extra, os.environ.get("RSPAMD_BUILD", ""),
                                         "blocked-group" if blocked else ""))
                       .encode()).hexdigest()
    if cache and os.path.exists(cache):
        with open(cache) as f:
            data = json.load(f)
        if data.get("key") == key:
            return [tuple(r) for r in data["rows"]]
    rows = collect(folds, bayes_extra, verbose, blocked)
    if cache:
        with open(cache, "w") as f:
            json.dump({"key": key, "rows": rows}, f)
    return rows


def bayes_rates(rows, margin):
    fp = sum(1 for f, s, _ in rows if not s and f.get("BAYES_SPAM", -1) >= 2 * margin)
    fn = sum(1 for f, s, _ in rows if s and f.get("BAYES_SPAM", -1) < 2 * margin)
    nh = sum(1 for _, s, _ in rows if not s)
    return fp, nh, fn, len(rows) - nh


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--bayes", default="", help="extra classifier-bayes.conf text")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--margins", action="store_true")
    ap.add_argument("--blocked", action="store_true", help="contiguous folds (see fold_of)")
    args = ap.parse_args()
    rows = cached(args.cache, args.folds, args.bayes, blocked=args.blocked)
    for m in ([0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.48, 0.49] if args.margins else [0.4]):
        fp, nh, fn, ns = bayes_rates(rows, m)
        print("Bayes alone, margin %.2f: FP %.2f%% (%d/%d)  FN %.2f%% (%d/%d)"
              % (m, 100.0 * fp / nh, fp, nh, 100.0 * fn / ns, fn, ns))


if __name__ == "__main__":
    main()
