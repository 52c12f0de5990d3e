#!/usr/bin/python3
"""Accuracy of the rules alone (no Bayes) on the corpus TEST split
(easy-ham-2 ham, spam-2 spam), scanned by our daemon from the repo's conf
as shipped (with conf/scores.d), without `Pass: all`.

A message counts as flagged when its action is add header, rewrite
subject or reject (greylist and soft reject are not counted, as in the
README's table: the mail is still delivered). Prints false positives on
ham, false negatives on spam, precision/recall/F1, the ham that was
flagged, and per-symbol hit counts on ham and spam.

Usage: /usr/bin/python3 test/corpus_tools/accuracy.py [--train] [--list-fp]
Environment: RSPAMD_BUILD (build dir), CORPUS_DIR.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_scan  # noqa: E402

FLAGGED = {"add header", "rewrite subject", "reject"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", action="store_true", help="score the TRAIN split instead")
    ap.add_argument("--list-fp", action="store_true", help="print each flagged ham")
    ap.add_argument("--symbols", type=int, default=1000, help="symbols to list (most hits first)")
    args = ap.parse_args()
    split = corpus_scan.TRAIN if args.train else corpus_scan.TEST
    files = corpus_scan.split_files(split)
    d = corpus_scan.start_daemon(workers=2)
    try:
        replies = corpus_scan.scan_all(d.port, [p for p, _ in files])
    finally:
        d.stop()
    fp = fn = tp = n_ham = n_spam = 0
    hits = {}
    fps = []
    for (path, spam), r in zip(files, replies):
        flagged = r.get("action") in FLAGGED
        for s in r.get("symbols", {}):
            h = hits.setdefault(s, [0, 0])
            h[1 if spam else 0] += 1
        if spam:
            n_spam += 1
            tp += flagged
            fn += not flagged
        else:
            n_ham += 1
            if flagged:
                fp += 1
                fps.append((r.get("score"), path, sorted(r.get("symbols", {}))))
    precision = tp / max(tp + fp, 1)
    recall = tp / max(n_spam, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    name = "TRAIN" if args.train else "TEST"
    print("%s split: %d ham, %d spam" % (name, n_ham, n_spam))
    print("false positives (ham with add header or worse): %d = %.2f%%"
          % (fp, 100.0 * fp / max(n_ham, 1)))
    print("false negatives (spam below add header):        %d = %.2f%%"
          % (fn, 100.0 * fn / max(n_spam, 1)))
    print("precision %.4f, recall %.4f, F1 %.4f" % (precision, recall, f1))
    if args.list_fp:
        for score, path, syms in sorted(fps, reverse=True):
            print("  FP %6.2f %s %s" % (score, os.path.basename(path), " ".join(syms)))
    print("per-symbol hits (ham, spam):")
    for s, (h, sp) in sorted(hits.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:args.symbols]:
        print("  %-28s %5d %5d" % (s, h, sp))


if __name__ == "__main__":
    main()
