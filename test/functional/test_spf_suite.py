#!/usr/bin/python3
"""The RFC 7208 SPF test suite (openspf.org release 2014.04, shipped by
Debian's python3-spf) against our evaluator.

Each YAML scenario's zone is served by dnszone.py on loopback, following
the conventions of the suite's own driver (pyspf's testspf.py): "SPF"
records are also published as TXT unless the name has TXT data of its own
("TXT: NONE" means none), "TIMEOUT" makes every query type not listed
before it time out. Every test case of the scenario is then evaluated by
the C evaluator (test/unit/auth/test_spf_cli.c, batch mode) and its result
compared with the expected one (the suite allows alternatives); when the
case gives an explanation, that is compared too.

Run as pytest (one test per case) or as a script (--binary PATH, as ctest
does through test_spf_cli without arguments), which prints the pass count
and fails on any mismatch not listed in KNOWN_DEVIATIONS.
"""
import argparse
import gzip
import os
import subprocess
import sys

import yaml
from dnslib import AAAA, CNAME, MX, PTR, QTYPE, RR, TXT, A

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnszone import DnsZone  # noqa: E402

SUITE = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("RSPAMD_BUILD", os.path.join(REPO, "build"))

# case id -> why we differ (kept empty when everything passes)
KNOWN_DEVIATIONS = {
}

TYPES = ("A", "AAAA", "MX", "TXT", "PTR", "CNAME")


def _txt_rdata(v):
    if isinstance(v, str):
        v = [v]
    chunks = []
    for s in v:
        b = s.encode("utf-8")
        if not b:
            chunks.append(b)
        while b:
            chunks.append(b[:255])
            b = b[255:]
    return TXT(chunks)


def _rr(name, t, v):
    if t == "A":
        return RR(name, QTYPE.A, rdata=A(v), ttl=60)
    if t == "AAAA":
        return RR(name, QTYPE.AAAA, rdata=AAAA(v), ttl=60)
    if t == "MX":
        return RR(name, QTYPE.MX, rdata=MX(v[1], v[0]), ttl=60)
    if t == "PTR":
        return RR(name, QTYPE.PTR, rdata=PTR(v), ttl=60)
    if t == "CNAME":
        return RR(name, QTYPE.CNAME, rdata=CNAME(v), ttl=60)
    if t == "TXT":
        return RR(name, QTYPE.TXT, rdata=_txt_rdata(v), ttl=60)
    return None


def zone_records(zonedata):
    """The scenario's zone as dnslib RRs plus "name TIMEOUT TYPE" lines."""
    rrs, timeouts = [], []
    for name, entries in (zonedata or {}).items():
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        seen = set()
        for e in entries:
            if e == "TIMEOUT":
                for t in TYPES:
                    if t not in seen:
                        timeouts.append((name, t))
                continue
            (t, v), = e.items()
            if t == "SPF":
                if has_txt:
                    continue
                t = "TXT"
            if v == "NONE" or v == ["NONE"]:
                continue     # as the suite's driver: not data, no answer
            seen.add(t)
            if v == "TIMEOUT":
                timeouts.append((name, t))
                continue
            try:
                rr = _rr(name, t, v)
            except Exception:     # data dnslib cannot encode: leave it out
                rr = None
            if rr is not None:
                rrs.append(rr)
    return rrs, timeouts


class _SuiteZone(DnsZone):
    def __init__(self, zonedata):
        rrs, timeouts = zone_records(zonedata)
        super().__init__(rrs)
        with self.lock:
            for name, t in timeouts:
                self.zone.special[(name.lower().rstrip(".") + ".", t)] = "TIMEOUT"
                self.zone.names.add(name.lower().rstrip(".") + ".")


def load_scenarios(path=SUITE):
    with gzip.open(path, "rb") as f:
        return [s for s in yaml.safe_load_all(f) if s]


def _field(s):
    return str(s if s is not None else "").replace("\t", " ").replace("\n", " ")


def run_scenario(binary, scenario):
    """{case id: (result, explanation)} from our evaluator."""
    zone = _SuiteZone(scenario.get("zonedata"))
    try:
        lines = []
        for cid, case in scenario["tests"].items():
            lines.append("\t".join([cid, _field(case.get("host")), _field(case.get("mailfrom")),
                                    _field(case.get("helo"))]))
        out = subprocess.run([binary, "-n", zone.address, "-t", "0.3"],
                             input="\n".join(lines) + "\n", capture_output=True, text=True,
                             timeout=300).stdout
    finally:
        zone.stop()
    got = {}
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) >= 3:
            got[f[0]] = (f[1], None if f[2] == "-" else f[2], f[3:] and f[3], f[4:] and f[4])
    return got


def compare(case, got):
    """None when it matches, else a description of the difference."""
    want = case["result"]
    want = want if isinstance(want, list) else [want]
    if got is None:
        return "no answer"
    if got[0] not in want:
        return f"result {got[0]} ({got[3] or got[2]}), expected {'/'.join(want)}"
    # "DEFAULT" is the implementation's own text (we give none); hex digits of
    # %{i} for IPv6 are compared without case (RFC 7208's examples are
    # lowercase, the suite's expectation uppercase)
    exp = case.get("explanation")
    if exp is not None and exp != "DEFAULT" and got[0] == "fail" and \
            (got[1] or "").lower() != exp.lower():
        return f"explanation {got[1]!r}, expected {exp!r}"
    return None


def run_all(binary):
    results = []
    for sc in load_scenarios():
        got = run_scenario(binary, sc)
        for cid, case in sc["tests"].items():
            results.append((sc.get("description", ""), cid, compare(case, got.get(cid))))
    return results


def _binary():
    return os.path.join(BUILD, "tests", "unit_auth_test_spf_cli")


_cache = {}


def _results():
    if "r" not in _cache:
        _cache["r"] = {cid: err for _, cid, err in run_all(_binary())}
    return _cache["r"]


def _case_ids():
    try:
        return [cid for sc in load_scenarios() for cid in sc["tests"]]
    except OSError:
        return []


try:
    import pytest

    @pytest.mark.parametrize("cid", _case_ids())
    def test_rfc7208(cid):
        if not os.path.exists(_binary()):
            pytest.skip("test_spf_cli not built")
        err = _results()[cid]
        if err is not None and cid in KNOWN_DEVIATIONS:
            pytest.xfail(KNOWN_DEVIATIONS[cid])
        assert err is None, err
except ImportError:
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=_binary())
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    results = run_all(os.path.abspath(args.binary))
    bad = [(d, c, e) for d, c, e in results if e is not None]
    unexpected = [(d, c, e) for d, c, e in bad if c not in KNOWN_DEVIATIONS]
    for d, c, e in bad:
        tag = "known" if c in KNOWN_DEVIATIONS else "FAIL"
        print(f"{tag} {c} [{d}]: {e}")
    print(f"RFC 7208 suite: {len(results) - len(bad)}/{len(results)} passed, "
          f"{len(bad) - len(unexpected)} known deviations, {len(unexpected)} unexpected")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
