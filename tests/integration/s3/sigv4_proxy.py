#!/usr/bin/env python3
"""tests/integration/s3/sigv4_proxy.py — a checking proxy between kiln's S3
object store and s3rver, for tests/runtime/test_s3.sh.

s3rver 3.7 accepts any well-formed SigV4 Authorization header without
checking the signature, so this proxy checks it, with its own SigV4 code
(Python's hashlib/hmac, written from AWS's description, sharing nothing with
kiln's C signer): the canonical request is rebuilt from the request as it
arrived (the path and query decoded and encoded again, the headers named in
SignedHeaders), and x-amz-content-sha256 must be the body's SHA-256. A bad
request gets 403 SignatureDoesNotMatch and is counted; a good one is
forwarded to s3rver unchanged (Host included, so virtual-hosted requests
reach the right bucket).

It also stands in for what s3rver lacks or cannot be made to do:
  - AbortMultipartUpload (s3rver answers 405): answered 204 here, counted;
  - CompleteMultipartUpload: the part list must name every part uploaded
    for that upload id, in order, with the ETags s3rver gave (counted good
    or bad), before it is forwarded;
  - faults, by key: ".../flaky/..." gets 503 SlowDown on the first two
    attempts of each request; ".../broken/..." always gets 503 SlowDown;
    ".../broken-mp/..." gets 500 InternalError on every UploadPart of part 2.
GET /__stats answers the counters as JSON.

Usage: sigv4_proxy.py LISTEN_PORT UPSTREAM_PORT SECRET REGION
"""
import calendar
import hashlib
import hmac
import http.client
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

LISTEN, UPSTREAM, SECRET, REGION = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

lock = threading.Lock()
stats = {
    "requests": 0, "verified": 0, "bad_sig": 0, "bad_sha": 0, "bad_date": 0, "unsigned_amz_header": 0,
    "injected": 0, "aborts": 0, "lists": 0, "list_continuations": 0, "parts": 0,
    "complete_ok": 0, "complete_bad": 0, "vhost": 0, "path_style": 0, "with_token": 0,
    "methods": {},
}
attempts = {}   # (method, path, query) -> count, for the flaky faults
uploads = {}    # upload id -> {part number: etag}


def enc(s):
    return quote(s, safe="-_.~")


def canonical_query(raw):
    pairs = []
    for item in raw.split("&") if raw else []:
        k, _, v = item.partition("=")
        pairs.append((enc(unquote(k)), enc(unquote(v))))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def hm(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def s3_error(code, message):
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>proxy</RequestId></Error>").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def count(self, name, n=1):
        with lock:
            stats[name] += n

    def verify(self, path, query, body):
        """Returns None if the request is signed right, else what is wrong."""
        h = {k.lower(): v for k, v in self.headers.items()}
        auth = h.get("authorization", "")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,"
                         r"SignedHeaders=([a-z0-9;-]+),Signature=([0-9a-f]{64})", auth)
        if not m:
            return "bad_sig", "malformed Authorization: " + auth
        akid, day, region, signed, sig = m.groups()
        date = h.get("x-amz-date", "")
        try:
            t = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            return "bad_date", "bad x-amz-date " + date
        if abs(t - time.time()) > 900 or date[:8] != day or region != REGION:
            return "bad_date", f"date {date} / scope {day}/{region}"
        names = signed.split(";")
        if "host" not in names or names != sorted(names):
            return "bad_sig", "SignedHeaders must be sorted and include host"
        for k in h:
            if k.startswith("x-amz-") and k not in names:
                return "unsigned_amz_header", k + " is sent but not signed"
        payload = h.get("x-amz-content-sha256", "")
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            return "bad_sha", "x-amz-content-sha256 is not the body's SHA-256"
        canon_uri = "/".join(enc(unquote(seg)) for seg in path.split("/"))
        canon_headers = "".join(f"{n}:{' '.join(h.get(n, '').split())}\n" for n in names)
        creq = "\n".join([self.command, canon_uri, canonical_query(query), canon_headers, signed, payload])
        sts = "\n".join(["AWS4-HMAC-SHA256", date, f"{day}/{region}/s3/aws4_request",
                         hashlib.sha256(creq.encode()).hexdigest()])
        k = hm(("AWS4" + SECRET).encode(), day)
        for part in (region, "s3", "aws4_request"):
            k = hm(k, part)
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            return "bad_sig", "signature mismatch; canonical request was:\n" + creq
        return None

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path, _, query = self.path.partition("?")
        if path == "/__stats":
            with lock:
                data = json.dumps(stats).encode()
            return self.reply(200, data, [("Content-Type", "application/json")])
        self.count("requests")
        with lock:
            stats["methods"][self.command] = stats["methods"].get(self.command, 0) + 1
        bad = self.verify(path, query, body)
        if bad:
            self.count(bad[0])
            sys.stderr.write(f"proxy: {self.command} {self.path}: {bad[1]}\n")
            return self.reply(403, s3_error("SignatureDoesNotMatch", "checked by the proxy"))
        self.count("verified")
        host = self.headers.get("Host", "")
        self.count("vhost" if host.split(":")[0].endswith(".localhost") else "path_style")
        if "x-amz-security-token" in {k.lower() for k in self.headers.keys()}:
            self.count("with_token")
        q = {}
        for item in query.split("&") if query else []:
            k, _, v = item.partition("=")
            q[unquote(k)] = unquote(v)

        # faults
        key = unquote(path)
        if "/broken/" in key or ("/broken-mp/" in key and self.command == "PUT" and q.get("partNumber") == "2"):
            self.count("injected")
            if "/broken/" in key:
                return self.reply(503, s3_error("SlowDown", "Please reduce your request rate."))
            return self.reply(500, s3_error("InternalError", "We encountered an internal error."))
        if "/flaky/" in key:
            with lock:
                a = attempts.get((self.command, path, query), 0)
                attempts[(self.command, path, query)] = a + 1
            if a < 2:
                self.count("injected")
                return self.reply(503, s3_error("SlowDown", "Please reduce your request rate."))

        # what s3rver lacks or does not check
        if "list-type" in q:
            self.count("lists")
            if "continuation-token" in q:
                self.count("list_continuations")
        if self.command == "DELETE" and "uploadId" in q:
            self.count("aborts")
            with lock:
                uploads.pop(q["uploadId"], None)
            return self.reply(204)
        if self.command == "POST" and "uploadId" in q:
            with lock:
                parts = uploads.get(q["uploadId"], {})
            listed = re.findall(rb"<Part><PartNumber>(\d+)</PartNumber><ETag>(.*?)</ETag></Part>", body)
            want = [(str(i).encode(), parts[i].replace('"', "&quot;").encode()) for i in sorted(parts)]
            good = bool(listed) and listed == want and sorted(parts) == list(range(1, len(parts) + 1))
            self.count("complete_ok" if good else "complete_bad")
            if not good:
                sys.stderr.write(f"proxy: Complete lists {listed}, uploaded {want}\n")
                return self.reply(400, s3_error("InvalidPart", "part list does not match the parts uploaded"))

        # forward
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
        conn.request(self.command, self.path, body=body if (body or self.command in ("PUT", "POST")) else None,
                     headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        out = [(k, v) for k, v in r.getheaders()
               if k.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive")]
        conn.close()
        if self.command == "PUT" and "partNumber" in q and r.status == 200:
            self.count("parts")
            with lock:
                uploads.setdefault(q.get("uploadId", ""), {})[int(q["partNumber"])] = r.getheader("ETag", "")
        if self.command == "HEAD":
            self.send_response(r.status)
            for k, v in out:
                self.send_header(k, v)
            self.send_header("Content-Length", r.getheader("Content-Length", "0"))
            self.end_headers()
            return
        self.reply(r.status, data, out)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", LISTEN), Handler).serve_forever()
