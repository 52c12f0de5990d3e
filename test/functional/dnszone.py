#!/usr/bin/python3
"""A small authoritative DNS server for tests, on a free loopback port.

Serves records given as zone text (BIND-like, one record per line, parsed
by dnslib's RR.fromZone), as a dict, or as dnslib RR objects, over UDP and
TCP on the same 127.0.0.1 port. Used by pytest (class DnsZone) and by C
tests as a child process:

    /usr/bin/python3 test/functional/dnszone.py --port-file F [--log-queries Q] zonefile

Zone text extras (not DNS record types, they change how a name answers):
    bad.example.  TIMEOUT     queries for the name get no answer at all
    bad.example.  SERVFAIL    answered with SERVFAIL
    bad.example.  REFUSED     answered with REFUSED
A record type may follow TIMEOUT/SERVFAIL/REFUSED ("x. TIMEOUT TXT") to
limit the effect to that query type.

Behaviour: CNAMEs in the zone are followed (the chain is put in the
answer), a name absent from the zone (and with no names below it) is
NXDOMAIN, an empty answer carries the enclosing SOA (if the zone has one)
in the authority section so resolvers can cache it negatively, an EDNS OPT
record in the query is echoed, and --ad sets the AD bit on every answer.

Options: --port-file (the port is written there once both sockets listen,
atomically), --log-queries FILE (one "name TYPE" line per query, flushed,
so tests can count queries), --silent (answer nothing), --ttl N (default
TTL for records written without one), --port P. SIGHUP re-reads the zone
file; SIGTERM stops.
"""
import argparse
import os
import signal
import socket
import sys
import threading

from dnslib import EDNS0, QTYPE, RCODE, RR, DNSError
from dnslib.server import DNSServer

SPECIAL = ("TIMEOUT", "SERVFAIL", "REFUSED")


class _QuietLogger:
    """dnslib calls these for every packet; tests want silence."""

    def __getattr__(self, name):
        return lambda *a, **k: None


def _norm(name):
    s = str(name).lower()
    return s if s.endswith(".") else s + "."


def _dict_to_text(records):
    """{"a.example": {"A": ["192.0.2.1"], "TXT": ['"v=spf1 -all"']}} or
    {"a.example": [("A", "192.0.2.1")]} -> zone text."""
    lines = []
    for name, val in records.items():
        items = val.items() if isinstance(val, dict) else [(t, v) for t, v in val]
        for rtype, values in items:
            if not isinstance(values, (list, tuple)):
                values = [values]
            for v in values:
                lines.append(f"{_norm(name)} {rtype} {v}")
    return "\n".join(lines)


class Zone:
    """Records by (name, type), plus the special per-name behaviours."""

    def __init__(self, records, ttl=3600):
        self.rrs = {}
        self.names = set()
        self.special = {}
        self.load(records, ttl)

    def load(self, records, ttl):
        rrs, special = [], {}
        if isinstance(records, dict):
            records = _dict_to_text(records)
        if isinstance(records, str):
            kept = []
            for line in records.splitlines():
                tok = line.split(";", 1)[0].split()
                if len(tok) >= 2 and tok[1].upper() in SPECIAL:
                    qt = tok[2].upper() if len(tok) > 2 else "*"
                    special[(_norm(tok[0]), qt)] = tok[1].upper()
                else:
                    kept.append(line)
            rrs = RR.fromZone("\n".join(kept), ttl=ttl) if any(
                s.strip() and not s.strip().startswith(";") for s in kept) else []
        else:
            rrs = list(records or [])
        table, names = {}, set()
        for rr in rrs:
            n = _norm(rr.rname)
            table.setdefault((n, rr.rtype), []).append(rr)
            names.add(n)
        for n, _ in special:
            names.add(n)
        self.rrs, self.names, self.special = table, names, special

    def exists(self, name):
        if name in self.names:
            return True
        return any(n.endswith("." + name) for n in self.names)

    def soa_for(self, name):
        labels = name.rstrip(".").split(".")
        for i in range(len(labels)):
            cand = ".".join(labels[i:]) + "."
            soa = self.rrs.get((cand, QTYPE.SOA))
            if soa:
                return soa[0]
        return None

    def special_for(self, name, qtype):
        t = QTYPE.get(qtype, str(qtype))
        return self.special.get((name, t)) or self.special.get((name, "*"))


class _Drop(DNSError):
    pass


class _Resolver:
    def __init__(self, owner):
        self.owner = owner

    def resolve(self, request, handler):
        o = self.owner
        q = request.q
        name = _norm(q.qname)
        o._record(name, q.qtype)
        if o.silent:
            raise _Drop("silent")
        with o.lock:
            zone = o.zone
            reply = request.reply()
            reply.header.aa = 1
            reply.header.ad = 1 if o.ad else 0
            if any(ar.rtype == QTYPE.OPT for ar in request.ar):
                reply.add_ar(EDNS0(udp_len=4096))
            return self._answer(zone, reply, name, q.qtype)

    def _answer(self, zone, reply, name, qtype):
        for _ in range(10):
            sp = zone.special_for(name, qtype)
            if sp == "TIMEOUT":
                raise _Drop("timeout")
            if sp:
                reply.header.rcode = getattr(RCODE, sp)
                return reply
            if qtype == QTYPE.ANY:
                found = [rr for (n, _t), lst in zone.rrs.items() if n == name for rr in lst]
            else:
                found = zone.rrs.get((name, qtype), [])
            if found:
                for rr in found:
                    reply.add_answer(rr)
                return reply
            cname = zone.rrs.get((name, QTYPE.CNAME))
            if cname and qtype != QTYPE.CNAME:
                reply.add_answer(cname[0])
                name = _norm(cname[0].rdata.label)
                continue
            break
        if not zone.exists(name):
            reply.header.rcode = RCODE.NXDOMAIN
        soa = zone.soa_for(name)
        if soa is not None:
            reply.add_auth(soa)
        return reply


class DnsZone:
    """The server as a pytest helper: DnsZone(text).port, .queries, .stop().

    records: zone text, dict, or list of dnslib RR. ttl: default TTL.
    silent: never answer. ad: set the AD bit. log_file: also append query
    lines there.
    """

    def __init__(self, records="", ttl=3600, silent=False, ad=False, port=0,
                 log_file=None):
        self.lock = threading.Lock()
        self.ttl = ttl
        self.zone = Zone(records, ttl)
        self.silent = silent
        self.ad = ad
        self.queries = []
        self.log_file = open(log_file, "a") if log_file else None
        self.servers = []
        self._start(port)

    def _start(self, port):
        resolver = _Resolver(self)
        last = None
        for _ in range(50):
            try:
                udp = DNSServer(resolver, address="127.0.0.1", port=port,
                                logger=_QuietLogger())
                p = udp.server.server_address[1]
                try:
                    tcp = DNSServer(resolver, address="127.0.0.1", port=p, tcp=True,
                                    logger=_QuietLogger())
                except OSError as e:
                    udp.server.server_close()
                    last = e
                    if port:
                        raise
                    continue
                self.servers = [udp, tcp]
                self.port = p
                for s in self.servers:
                    s.server.daemon_threads = True
                    s.start_thread()
                return
            except OSError as e:
                last = e
                if port:
                    raise
        raise last

    def _record(self, name, qtype):
        t = QTYPE.get(qtype, str(qtype))
        with self.lock:
            self.queries.append((name.rstrip("."), t))
            if self.log_file:
                self.log_file.write(f"{name.rstrip('.')} {t}\n")
                self.log_file.flush()

    def count(self, name=None, qtype=None):
        """Queries seen, optionally for one name and/or type."""
        with self.lock:
            return sum(1 for n, t in self.queries
                       if (name is None or n == name.rstrip(".").lower())
                       and (qtype is None or t == qtype))

    def set_records(self, records):
        with self.lock:
            self.zone = Zone(records, self.ttl)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        for s in self.servers:
            s.stop()
            s.server.server_close()
        self.servers = []
        if self.log_file:
            self.log_file.close()
            self.log_file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def silent_port():
    """A loopback UDP port that swallows everything (for timeout tests):
    returns (socket, port); keep the socket open while the test runs."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def _read_zone(path):
    if path == "-":
        return sys.stdin.read()
    with open(path) as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("zonefile", nargs="?", default=None)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log-queries")
    ap.add_argument("--silent", action="store_true")
    ap.add_argument("--ad", action="store_true")
    ap.add_argument("--ttl", type=int, default=3600)
    args = ap.parse_args()
    text = _read_zone(args.zonefile) if args.zonefile else ""
    z = DnsZone(text, ttl=args.ttl, silent=args.silent, ad=args.ad, port=args.port,
                log_file=args.log_queries)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    if args.zonefile and args.zonefile != "-":
        signal.signal(signal.SIGHUP,
                      lambda *a: z.set_records(_read_zone(args.zonefile)))
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{z.port}\n")
        os.rename(tmp, args.port_file)
    else:
        print(z.port, flush=True)
    # parent death (C tests that crash) must not leave us running forever
    parent = os.getppid()
    while not stop.wait(0.5):
        if os.getppid() != parent:
            break
    z.stop()


if __name__ == "__main__":
    main()
