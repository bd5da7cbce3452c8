#!/usr/bin/env python3
"""Fault-injecting TCP proxy of the integration tests and benchmarks (python3 stdlib only).

It sits in front of a server (normally TLS: nginx with mutual TLS) and forwards raw bytes in
both directions, so TLS stays end to end between the client and the server; what it changes is
the connection: cut after N bytes from the server, reset instead of close, delay, stall. Used
by tests/integration/test_fetch_faults.sh and test_lea_fetch_faults.sh (TS 103 707 Annex E:
resume and range shrinking, R-BIN-C2).

usage: faultproxy.py --target HOST:PORT [--listen HOST:PORT] [--port-file FILE] [--log FILE]
                     [--cut-after N] [--cut-first K] [--reset] [--delay MS]
                     [--stall-after N] [--stall-secs S]

  --target HOST:PORT   the server (required)
  --listen HOST:PORT   where to listen [127.0.0.1:0, an ephemeral port]
  --port-file FILE     write the listening port there (atomically: FILE appears complete)
  --log FILE           "conn=I open" when connection I is accepted, and when it ends:
                         conn=I down=BYTES up=BYTES end=eof|cut|reset|stall|error ms=MS
                       down: bytes forwarded from the server to the client, up: the opposite
  --cut-after N        cut the connection once N bytes came from the server (exactly N are
                       forwarded); with --cut-first K only the first K connections
  --cut-first K        apply --cut-after / --stall-after to connections 1..K only [all]
  --reset              a cut closes the client side with a TCP RST (SO_LINGER 0), not a FIN
  --delay MS           wait MS before forwarding each piece, in both directions
  --stall-after N      once N bytes came from the server, forward nothing more in either
                       direction (the sockets stay open) until the client closes or
                       --stall-secs passed, then close
  --stall-secs S       how long a stall lasts [3600]

The proxy runs until killed (SIGTERM/SIGINT end it at once). Connections are numbered from 1
in the order they were accepted."""
import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time

BUF = 65536


def hostport(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("want HOST:PORT, got %r" % text)
    return host, int(port)


def nonneg(text):
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("want a number >= 0, got %r" % text)
    return v


class Conn:
    """One client connection and its upstream connection."""

    def __init__(self, proxy, num, client):
        self.proxy = proxy
        self.num = num
        self.client = client
        self.server = None
        self.down = 0
        self.up = 0
        self.end = None  # first reason wins
        self.client_gone = False
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.faulty = proxy.args.cut_first is None or num <= proxy.args.cut_first

    def finish(self, reason):
        with self.lock:
            if self.end is not None:
                return False
            self.end = reason
        return True

    def close_all(self, rst=False):
        for s in (self.client, self.server):
            if s is None:
                continue
            try:
                if rst and s is self.client:
                    # SHUT_RD sends nothing but wakes the other pump's recv; closing with
                    # SO_LINGER 0 then sends the RST.
                    s.shutdown(socket.SHUT_RD)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def run(self):
        a = self.proxy.args
        try:
            self.server = socket.create_connection(a.target, timeout=10)
            self.server.settimeout(None)
        except OSError:
            self.finish("error")
            self.close_all()
            self.proxy.log(self)
            return
        t = threading.Thread(target=self.pump_up, daemon=True)
        t.start()
        self.pump_down()
        t.join()
        self.proxy.log(self)

    def pump_up(self):
        """client -> server"""
        delay = self.proxy.args.delay / 1000.0
        try:
            while True:
                data = self.client.recv(BUF)
                if not data:
                    break
                if self.end == "stall":
                    continue  # swallowed until the client closes
                if delay:
                    time.sleep(delay)
                if self.end is not None:
                    return
                self.server.sendall(data)
                self.up += len(data)
            # The client closed: close the server side too.
            self.client_gone = True
            if self.finish("eof"):
                self.close_all()
        except OSError:
            self.client_gone = True
            if self.finish("error"):
                self.close_all()

    def pump_down(self):
        """server -> client, where the faults are"""
        a = self.proxy.args
        delay = a.delay / 1000.0
        cut = a.cut_after if self.faulty else None
        stall = a.stall_after if self.faulty else None
        try:
            while True:
                limit = BUF
                for mark in (cut, stall):
                    if mark is not None:
                        limit = min(limit, max(mark - self.down, 0))
                if limit == 0:
                    break
                data = self.server.recv(limit)
                if not data:
                    # The server closed: so does the client side (the client's own data
                    # can no longer reach anyone).
                    if self.finish("eof"):
                        self.close_all()
                    return None
                if delay:
                    time.sleep(delay)
                if self.end is not None:
                    return None
                self.client.sendall(data)
                self.down += len(data)
        except OSError:
            if self.finish("error"):
                self.close_all()
            return None
        # A mark was reached.
        if stall is not None and self.down >= stall and (cut is None or stall <= cut):
            if self.finish("stall"):
                end = time.monotonic() + a.stall_secs
                while time.monotonic() < end and not self.client_gone:
                    time.sleep(0.05)
                self.close_all()
            return None
        rst = a.reset
        if self.finish("reset" if rst else "cut"):
            self.close_all(rst=rst)
        return None


class Proxy:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.log_lock = threading.Lock()
        self.logf = open(args.log, "a", buffering=1) if args.log else None

    def log(self, c):
        if not self.logf:
            return
        ms = int((time.monotonic() - c.started) * 1000)
        with self.log_lock:
            self.logf.write("conn=%d down=%d up=%d end=%s ms=%d\n"
                            % (c.num, c.down, c.up, c.end or "eof", ms))
            self.logf.flush()

    def serve(self):
        a = self.args
        ls = socket.socket(socket.AF_INET6 if ":" in a.listen[0] else socket.AF_INET)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(a.listen)
        ls.listen(128)
        port = ls.getsockname()[1]
        if a.port_file:
            tmp = a.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % port)
            os.rename(tmp, a.port_file)
        while True:
            client, _ = ls.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.count += 1
            c = Conn(self, self.count, client)
            if self.logf:
                with self.log_lock:
                    self.logf.write("conn=%d open\n" % c.num)
            threading.Thread(target=c.run, daemon=True).start()


def main():
    p = argparse.ArgumentParser(description="fault-injecting TCP proxy (test harness)")
    p.add_argument("--target", type=hostport, required=True)
    p.add_argument("--listen", type=hostport, default=("127.0.0.1", 0))
    p.add_argument("--port-file")
    p.add_argument("--log")
    p.add_argument("--cut-after", type=nonneg)
    p.add_argument("--cut-first", type=nonneg)
    p.add_argument("--reset", action="store_true")
    p.add_argument("--delay", type=nonneg, default=0)
    p.add_argument("--stall-after", type=nonneg)
    p.add_argument("--stall-secs", type=float, default=3600.0)
    args = p.parse_args()
    if args.reset and args.cut_after is None:
        p.error("--reset needs --cut-after")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    try:
        Proxy(args).serve()
    except OSError as e:
        print("faultproxy: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
