"""A small, independent SigV4 signer for tests that need requests botocore will not make:
chosen timestamps (clock skew), wrong scopes, forged signatures, raw HTTP/1.1 over a socket.
Written from the AWS documentation, separately from the gateway's C signer, so the two check
each other."""
import datetime
import hashlib
import hmac
import http.client
import urllib.parse


def _h(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sign_headers(method, url, headers, body, access_key, secret_key, region, service, when=None,
                 signed=None):
    """Returns headers + Authorization/X-Amz-Date for the request. `signed`: header names to
    sign (default: every header given plus host and x-amz-date)."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    u = urllib.parse.urlsplit(url)
    headers = dict(headers)
    headers["Host"] = u.netloc
    headers["X-Amz-Date"] = amz_date
    lower = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
    names = sorted(signed or lower.keys())
    canon_headers = "".join(f"{n}:{lower[n]}\n" for n in names)
    q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    canon_query = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                           for k, v in sorted(q))
    payload = hashlib.sha256(body).hexdigest()
    creq = "\n".join([method, u.path or "/", canon_query, canon_headers, ";".join(names), payload])
    scope = f"{day}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = _h(_h(_h(_h(("AWS4" + secret_key).encode(), day), region), service), "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return headers


def post(url, headers, body, timeout=30):
    """POST body to url with exactly these headers; returns (status, headers dict, body)."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        hdrs = {k: v for k, v in headers.items() if k.lower() != "host"}
        c.putrequest("POST", u.path or "/", skip_host=True, skip_accept_encoding=True)
        c.putheader("Host", headers.get("Host", u.netloc))
        for k, v in hdrs.items():
            c.putheader(k, v)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()
