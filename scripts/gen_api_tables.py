#!/usr/bin/env python3
"""Generate Sluice's API tables and docs/operations.md from the AWS service models.

Reads every <models>/<service>/service-2.json listed in SERVICES and api/handlers.def (the one
place that says which operations have a handler), and writes:

  --out-c FILE        the C tables declared in api/include/sluice/api_model.h: services,
                      operations (method, URI, input shape, output presence, handler), input
                      shapes with their constraints, output shapes of the JSON 1.1 services
                      (member types only, for the CBOR encoder), error shapes with HTTP status, and the
                      models' patterns (as anchored POSIX ERE where that is exact, else as a
                      program for api/wire/pattern.c) with the Unicode classes they need
  --out-h FILE        prototypes of the registered handlers (included by the handler files)
  --out-docs FILE     docs/operations.md: per service, every operation and whether Sluice
                      implements it
  --check-docs FILE   regenerate the docs in memory and fail (exit 1, with a diff) when FILE
                      differs -- the docs_operations_current test

Java regex subset understood (everything the models use): literals, escapes (\\d \\w \\s \\S
\\p{L} \\p{Z} \\p{N} \\uXXXX and escaped punctuation), classes with ranges and negation, `.`,
groups (capturing, (?:), look-ahead (?= (?!, fixed-length look-behind (?<= (?<!), alternation,
quantifiers * + ? {n} {n,} {n,m} with lazy (?) and possessive (+, only on fixed counts) forms,
and ^ $. Anything else makes the generator fail loudly, so no pattern is ever skipped.
"""
import argparse
import difflib
import json
import os
import re
import sys
import unicodedata

# (model folder, display name, max request body bytes)
SERVICES = [
    ("kinesis", "Kinesis", 7864320),  # PutRecords: 5 MiB of data, base64 + JSON overhead
    ("firehose", "Firehose", 6291456),  # PutRecordBatch: 4 MiB of data, base64 + overhead
    ("kinesisanalytics", "KinesisAnalytics", 1048576),
    ("kinesisvideo", "KinesisVideo", 1048576),
    ("kinesis-video-media", "KinesisVideoMedia", 1048576),
    ("kinesis-video-archived-media", "KinesisVideoArchivedMedia", 1048576),
    ("kinesis-video-signaling", "KinesisVideoSignaling", 1048576),
    ("kinesis-video-webrtc-storage", "KinesisVideoWebRTCStorage", 1048576),
]

# Operations that exist on the wire but not in the models.
EXTRA_OPS = {
    "kinesis-video-media": [
        {"name": "PutMedia", "http": {"method": "POST", "requestUri": "/putMedia"},
         "streaming": True, "extra": True},
    ],
}

SHAPE_TYPES = {
    "structure": "SL_SHAPE_STRUCTURE", "list": "SL_SHAPE_LIST", "map": "SL_SHAPE_MAP",
    "string": "SL_SHAPE_STRING", "integer": "SL_SHAPE_INTEGER", "long": "SL_SHAPE_LONG",
    "double": "SL_SHAPE_DOUBLE", "float": "SL_SHAPE_FLOAT", "boolean": "SL_SHAPE_BOOLEAN",
    "blob": "SL_SHAPE_BLOB", "timestamp": "SL_SHAPE_TIMESTAMP",
}

MAX_CP = 0x10FFFF


def cstr(s):
    out = ['"']
    for ch in s.encode("utf-8"):
        c = chr(ch)
        if c in '"\\':
            out.append("\\" + c)
        elif 32 <= ch < 127 and c != "?":  # '?' avoided: trigraphs
            out.append(c)
        else:
            out.append("\\%03o" % ch)
    out.append('"')
    return "".join(out)


def ident(s):
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


# ---------------------------------------------------------------------------------------------
# Character classes as sorted lists of inclusive (lo, hi) code point ranges.

def norm(ranges):
    rs = sorted(ranges)
    out = []
    for lo, hi in rs:
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def complement(ranges):
    out, prev = [], 0
    for lo, hi in norm(ranges):
        if lo > prev:
            out.append((prev, lo - 1))
        prev = hi + 1
    if prev <= MAX_CP:
        out.append((prev, MAX_CP))
    return out


_ucache = {}


def unicode_category(prefix):
    """Ranges of code points whose general category starts with prefix (L, N, Z)."""
    if prefix in _ucache:
        return _ucache[prefix]
    rs, start = [], None
    for cp in range(MAX_CP + 2):
        inside = cp <= MAX_CP and unicodedata.category(chr(cp)).startswith(prefix)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            rs.append((start, cp - 1))
            start = None
    _ucache[prefix] = rs
    return rs


DIGIT = [(0x30, 0x39)]
WORD = [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
SPACE = [(0x09, 0x0D), (0x20, 0x20)]  # Java \s: [ \t\n\x0B\f\r]
LINE_TERMINATORS = [(0x0A, 0x0A), (0x0D, 0x0D), (0x85, 0x85), (0x2028, 0x2029)]


class RegexError(Exception):
    pass


class JavaRegex:
    """Parses the Java regex subset into a small AST:
    ('cls', ranges) ('seq', [..]) ('alt', [..]) ('rep', node, min, max|None, possessive)
    ('bol',) ('eol',) ('look', node, negative, behind)"""

    def __init__(self, src):
        self.s = src
        self.i = 0

    def parse(self):
        node = self.alt()
        if self.i != len(self.s):
            raise RegexError("unexpected %r at %d" % (self.s[self.i], self.i))
        return node

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else None

    def alt(self):
        seqs = [self.seq()]
        while self.peek() == "|":
            self.i += 1
            seqs.append(self.seq())
        return seqs[0] if len(seqs) == 1 else ("alt", seqs)

    def seq(self):
        items = []
        while self.peek() is not None and self.peek() not in "|)":
            atom = self.atom()
            items.append(self.quant(atom))
        return ("seq", items)

    def quant(self, atom):
        c = self.peek()
        if c is None:
            return atom
        lo = hi = None
        if c == "*":
            lo, hi = 0, None
            self.i += 1
        elif c == "+":
            lo, hi = 1, None
            self.i += 1
        elif c == "?":
            lo, hi = 0, 1
            self.i += 1
        elif c == "{":
            m = re.match(r"\{(\d+)(,(\d*))?\}", self.s[self.i:])
            if not m:
                raise RegexError("bad quantifier at %d" % self.i)
            lo = int(m.group(1))
            hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
            self.i += m.end()
        else:
            return atom
        if atom[0] in ("bol", "eol", "look"):
            raise RegexError("quantified assertion")
        possessive = False
        if self.peek() == "?":  # lazy: same language for a whole-input match
            self.i += 1
        elif self.peek() == "+":
            self.i += 1
            possessive = True
            if hi != lo:
                raise RegexError("possessive quantifier on a variable count is not supported")
        return ("rep", atom, lo, hi, possessive)

    def atom(self):
        c = self.s[self.i]
        self.i += 1
        if c == "(":
            look = None
            if self.s.startswith("?:", self.i):
                self.i += 2
            elif self.s.startswith("?=", self.i) or self.s.startswith("?!", self.i):
                look = (self.s[self.i + 1] == "!", False)
                self.i += 2
            elif self.s.startswith("?<=", self.i) or self.s.startswith("?<!", self.i):
                look = (self.s[self.i + 2] == "!", True)
                self.i += 3
            elif self.peek() == "?":
                raise RegexError("unsupported group at %d" % self.i)
            body = self.alt()
            if self.peek() != ")":
                raise RegexError("missing )")
            self.i += 1
            if look:
                return ("look", body, look[0], look[1])
            return body
        if c == "[":
            return ("cls", self.cls())
        if c == ".":
            return ("cls", complement(LINE_TERMINATORS))
        if c == "^":
            return ("bol",)
        if c == "$":
            return ("eol",)
        if c == "\\":
            return ("cls", self.escape(in_class=False))
        if c in "*+?{)":
            raise RegexError("dangling %r" % c)
        return ("cls", [(ord(c), ord(c))])

    def escape(self, in_class):
        c = self.s[self.i]
        self.i += 1
        if c == "d":
            return DIGIT
        if c == "D":
            return complement(DIGIT)
        if c == "w":
            return WORD
        if c == "W":
            return complement(WORD)
        if c == "s":
            return SPACE
        if c == "S":
            return complement(SPACE)
        if c == "p" or c == "P":
            m = re.match(r"\{([A-Za-z]+)\}", self.s[self.i:])
            if not m or m.group(1) not in ("L", "N", "Z"):
                raise RegexError("unsupported property at %d" % self.i)
            self.i += m.end()
            rs = unicode_category(m.group(1))
            return rs if c == "p" else complement(rs)
        if c == "u":
            cp = int(self.s[self.i:self.i + 4], 16)
            self.i += 4
            return [(cp, cp)]
        if c == "n":
            return [(10, 10)]
        if c == "t":
            return [(9, 9)]
        if c == "r":
            return [(13, 13)]
        if c.isalnum():
            raise RegexError("unsupported escape \\%s" % c)
        return [(ord(c), ord(c))]

    def cls(self):
        neg = False
        if self.peek() == "^":
            neg = True
            self.i += 1
        ranges = []
        first = True
        while True:
            c = self.peek()
            if c is None:
                raise RegexError("unterminated class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[":
                raise RegexError("nested classes are not supported")
            lo_set = self.class_atom()
            if (len(lo_set) == 1 and lo_set[0][0] == lo_set[0][1] and self.peek() == "-"
                    and self.i + 1 < len(self.s) and self.s[self.i + 1] != "]"):
                self.i += 1
                hi_set = self.class_atom()
                if len(hi_set) != 1 or hi_set[0][0] != hi_set[0][1]:
                    raise RegexError("bad range")
                ranges.append((lo_set[0][0], hi_set[0][0]))
            else:
                ranges.extend(lo_set)
        ranges = norm(ranges)
        return complement(ranges) if neg else ranges

    def class_atom(self):
        c = self.s[self.i]
        self.i += 1
        if c == "\\":
            return self.escape(in_class=True)
        return [(ord(c), ord(c))]


def fixed_len(node):
    t = node[0]
    if t == "cls":
        return 1
    if t in ("bol", "eol", "look"):
        return 0
    if t == "seq":
        total = 0
        for n in node[1]:
            f = fixed_len(n)
            if f is None:
                return None
            total += f
        return total
    if t == "alt":
        lens = {fixed_len(n) for n in node[1]}
        return lens.pop() if len(lens) == 1 else None
    if t == "rep":
        f = fixed_len(node[1])
        if f is None or node[3] != node[2]:
            return None
        return f * node[2]
    return None


# --- translation to POSIX ERE (only when byte-wise matching means exactly the same) -----------

ALL_NON_ASCII = (0x80, MAX_CP)


def ascii_part(ranges):
    return [(lo, min(hi, 0x7F)) for lo, hi in ranges if lo <= 0x7F]


def covers_all_non_ascii(ranges):
    return any(lo <= 0x80 and hi >= MAX_CP for lo, hi in ranges)


def touches_non_ascii(ranges):
    return any(hi >= 0x80 for lo, hi in ranges)


def ere_bracket(ranges, all_non_ascii):
    """A bracket expression for the ASCII part of ranges; with all_non_ascii the bracket is
    written negated so bytes >= 0x80 match too."""
    asc = norm(ascii_part(ranges))
    if all_non_ascii:
        asc = [(lo, hi) for lo, hi in complement(asc) if lo <= 0x7F]
        asc = [(lo, min(hi, 0x7F)) for lo, hi in asc]
    for lo, hi in asc:
        if lo == 0:
            raise RegexError("NUL in ERE class")
    items = []
    has_close = has_dash = has_caret = False
    for lo, hi in asc:
        for special in (0x5D, 0x2D, 0x5E):
            if lo <= special <= hi:
                if special == 0x5D:
                    has_close = True
                elif special == 0x2D:
                    has_dash = True
                else:
                    has_caret = True
        pieces = []
        cur = lo
        for special in (0x2D, 0x5D, 0x5E):
            if lo <= special <= hi:
                if cur <= special - 1:
                    pieces.append((cur, special - 1))
                cur = special + 1
        if cur <= hi:
            pieces.append((cur, hi))
        for a, b in pieces:
            if a == b:
                items.append(chr(a))
            elif b == a + 1:
                items.append(chr(a) + chr(b))
            else:
                items.append(chr(a) + "-" + chr(b))
    body = ("]" if has_close else "") + "".join(items) + ("^" if has_caret else "") + \
        ("-" if has_dash else "")
    if body == "":
        if all_non_ascii:
            return "."  # every byte (no REG_NEWLINE)
        raise RegexError("empty class")
    if body == "^" and not all_non_ascii:
        return "\\^"
    return ("[^" if all_non_ascii else "[") + body + "]"


def to_ere(node, counted=False):
    t = node[0]
    if t == "cls":
        rs = node[1]
        if touches_non_ascii(rs):
            # A byte-wise atom stands for one code point only if it accepts every non-ASCII
            # code point and is repeated without a count (each UTF-8 byte then matches).
            if not covers_all_non_ascii(rs) or counted:
                raise RegexError("non-ASCII atom")
            return ere_bracket(rs, True)
        asc = norm(rs)
        if len(asc) == 1 and asc[0][0] == asc[0][1]:
            ch = chr(asc[0][0])
            if ch in ".[]()*+?{}|^$\\":
                return "\\" + ch
            if ch == "\n" or ord(ch) < 32:
                return ere_bracket(asc, False)
            return ch
        return ere_bracket(asc, False)
    if t == "seq":
        return "".join(to_ere(n, counted) for n in node[1])
    if t == "alt":
        return "(" + "|".join(to_ere(n, counted) for n in node[1]) + ")"
    if t == "bol":
        return "^"
    if t == "eol":
        return "$"
    if t == "look":
        raise RegexError("look-around")
    if t == "rep":
        body, lo, hi = node[1], node[2], node[3]
        is_counted = not ((lo, hi) in ((0, None), (1, None), (0, 1)))
        inner = to_ere(body, counted or is_counted or (lo, hi) == (0, 1))
        if not (inner.startswith("(") and inner.endswith(")")) and len(inner) > 1 and \
                not (inner.startswith("[") and inner.endswith("]") and inner.count("[") == 1) \
                and not (len(inner) == 2 and inner[0] == "\\"):
            inner = "(" + inner + ")"
        if (lo, hi) == (0, None):
            q = "*"
        elif (lo, hi) == (1, None):
            q = "+"
        elif (lo, hi) == (0, 1):
            q = "?"
        elif hi is None:
            q = "{%d,}" % lo
        elif lo == hi:
            q = "{%d}" % lo
        else:
            q = "{%d,%d}" % (lo, hi)
        if hi is not None and hi > 255:
            raise RegexError("count above RE_DUP_MAX")
        return inner + q
    raise RegexError("node %s" % t)


# --- compilation to the own matcher's program --------------------------------------------------

class Prog:
    def __init__(self):
        self.insts = []  # [op, flag, arg, x, y]
        self.classes = []
        self.class_index = {}
        self.pending = []  # (inst index, look body)

    def cls(self, ranges):
        key = tuple(ranges)
        if key not in self.class_index:
            self.class_index[key] = len(self.classes)
            self.classes.append(list(ranges))
        return self.class_index[key]

    def emit(self, op, flag=0, arg=0, x=0, y=0):
        self.insts.append([op, flag, arg, x, y])
        return len(self.insts) - 1

    def gen(self, node):
        t = node[0]
        if t == "cls":
            self.emit("SL_RX_CLASS", 0, self.cls(node[1]))
        elif t == "seq":
            for n in node[1]:
                self.gen(n)
        elif t == "alt":
            jumps = []
            alts = node[1]
            for k, n in enumerate(alts):
                if k < len(alts) - 1:
                    sp = self.emit("SL_RX_SPLIT")
                    self.insts[sp][3] = len(self.insts)
                    self.gen(n)
                    jumps.append(self.emit("SL_RX_JMP"))
                    self.insts[sp][4] = len(self.insts)
                else:
                    self.gen(n)
            for j in jumps:
                self.insts[j][3] = len(self.insts)
        elif t == "bol":
            self.emit("SL_RX_BOL")
        elif t == "eol":
            self.emit("SL_RX_EOL")
        elif t == "look":
            body, negative, behind = node[1], node[2], node[3]
            length = 0
            if behind:
                length = fixed_len(body)
                if length is None:
                    raise RegexError("variable-length look-behind")
            idx = self.emit("SL_RX_LOOK", (1 if negative else 0) | (2 if behind else 0), 0, 0,
                            length)
            self.pending.append((idx, body))
        elif t == "rep":
            body, lo, hi = node[1], node[2], node[3]
            for _ in range(lo):
                self.gen(body)
            if hi is None:
                loop = self.emit("SL_RX_SPLIT")
                self.insts[loop][3] = len(self.insts)
                self.gen(body)
                self.emit("SL_RX_JMP", x=loop)
                self.insts[loop][4] = len(self.insts)
            else:
                splits = []
                for _ in range(hi - lo):
                    sp = self.emit("SL_RX_SPLIT")
                    self.insts[sp][3] = len(self.insts)
                    splits.append(sp)
                    self.gen(body)
                for sp in splits:
                    self.insts[sp][4] = len(self.insts)
        else:
            raise RegexError("node %s" % t)

    def build(self, node):
        self.gen(node)
        self.emit("SL_RX_MATCH")
        while self.pending:
            idx, body = self.pending.pop(0)
            self.insts[idx][3] = len(self.insts)
            self.gen(body)
            self.emit("SL_RX_MATCH")


def compile_pattern(src):
    ast = JavaRegex(src).parse()
    try:
        return {"ere": "^(" + to_ere(ast) + ")$"}
    except RegexError:
        prog = Prog()
        prog.build(ast)
        return {"prog": prog}


# ---------------------------------------------------------------------------------------------

def lower_first(s):
    return s[:1].lower() + s[1:]


def read_handlers(path):
    """api/handlers.def: SL_HANDLER(service, Operation, function) and
    SL_STREAM_HANDLER(service, Operation, function), one per line."""
    handlers = {}
    rx = re.compile(r"^\s*(SL_HANDLER|SL_STREAM_HANDLER)\(\s*([A-Za-z0-9_-]+)\s*,\s*"
                    r"([A-Za-z0-9]+)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)")
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = rx.match(line)
            if m:
                key = (m.group(2).replace("_", "-"), m.group(3))
                if key in handlers:
                    raise SystemExit("%s: %s.%s registered twice" % (path, key[0], key[1]))
                handlers[key] = (m.group(1), m.group(4))
    return handlers


def load(models_dir, handlers):
    services = []
    for sid, display, max_body in SERVICES:
        with open(os.path.join(models_dir, sid, "service-2.json"), encoding="utf-8") as f:
            model = json.load(f)
        md = model["metadata"]
        ops = [dict(o) for o in model["operations"].values()]
        ops += [dict(o) for o in EXTRA_OPS.get(sid, [])]
        for o in ops:
            o["impl"] = handlers.get((sid, o["name"]))
        services.append({
            "id": sid, "display": display, "max_body": max_body, "model": model,
            "proto": "SL_PROTO_AWS_JSON" if md["protocol"] == "json" else "SL_PROTO_REST_JSON",
            "target": md.get("targetPrefix"),
            "signing": md.get("signingName") or md.get("endpointPrefix"),
            "ops": sorted(ops, key=lambda o: o["name"]),
            "title": md.get("serviceFullName", display),
            "protocol": md["protocol"], "version": md.get("apiVersion", ""),
        })
    for key in handlers:
        if not any(s["id"] == key[0] and any(o["name"] == key[1] for o in s["ops"])
                   for s in services):
            raise SystemExit("handlers.def: %s.%s is not an operation of any model" % key)
    return services


def gen_c(services, out):
    w = out.append
    w("/* Generated by scripts/gen_api_tables.py from shared/aws-models: do not edit. */")
    w("#include <stddef.h>")
    w('#include "sluice/api_model.h"')
    w('#include "sl_api_handlers.h"')
    w("")
    patterns = {}
    pattern_list = []
    shape_names = {}
    decls, defs = [], []

    def pattern_index(src):
        if src not in patterns:
            patterns[src] = len(pattern_list)
            pattern_list.append((src, compile_pattern(src)))
        return patterns[src]

    def shape_ref(svc, name):
        key = (svc["id"], name)
        if key in shape_names:
            return shape_names[key]
        cname = "S_%s_%s" % (ident(svc["id"]), ident(name))
        shape_names[key] = cname
        decls.append("static const sl_shape %s;" % cname)
        s = svc["model"]["shapes"][name]
        fields = [".name = %s" % cstr(name), ".type = %s" % SHAPE_TYPES[s["type"]]]
        if "min" in s:
            fields += [".has_min = 1", ".min = %dLL" % int(s["min"])]
        if "max" in s:
            fields += [".has_max = 1", ".max = %dLL" % int(s["max"])]
        fields.append(".pattern = %d" % (pattern_index(s["pattern"]) if "pattern" in s else -1))
        if "enum" in s:
            ename = cname + "_enum"
            defs.append("static const char *const %s[] = {%s};" % (
                ename, ", ".join(cstr(e) for e in s["enum"])))
            fields += [".enums = %s" % ename, ".n_enums = %d" % len(s["enum"])]
        if s["type"] == "structure":
            members = s.get("members", {})
            req = set(s.get("required", []))
            rows = []
            for mname, m in members.items():
                if m.get("location") in ("header", "headers", "querystring", "uri"):
                    continue  # not in the JSON body (no input uses these today)
                rows.append("{%s, %s, &%s, %d}" % (cstr(mname), cstr(lower_first(mname)),
                                                   shape_ref(svc, m["shape"]),
                                                   1 if mname in req else 0))
            if rows:
                mn = cname + "_members"
                defs.append("static const sl_member %s[] = {\n    %s,\n};" % (
                    mn, ",\n    ".join(rows)))
                fields += [".members = %s" % mn, ".n_members = %d" % len(rows)]
        elif s["type"] == "list":
            fields.append(".member = &%s" % shape_ref(svc, s["member"]["shape"]))
        elif s["type"] == "map":
            fields.append(".key = &%s" % shape_ref(svc, s["key"]["shape"]))
            fields.append(".value = &%s" % shape_ref(svc, s["value"]["shape"]))
        defs.append("static const sl_shape %s = {%s};" % (cname, ", ".join(fields)))
        return cname

    out_names = {}

    def out_shape_ref(svc, name):
        """Output shapes, for encoders that need member types (CBOR replies: blobs as byte
        strings, timestamps as tag 1). Types and structure only: constraints are never checked
        on replies, so output-only shapes add no patterns. Kept apart from the input shapes so
        an input's constraints never depend on which shapes outputs reach first."""
        key = (svc["id"], name)
        if key in out_names:
            return out_names[key]
        cname = "O_%s_%s" % (ident(svc["id"]), ident(name))
        out_names[key] = cname
        decls.append("static const sl_shape %s;" % cname)
        s = svc["model"]["shapes"][name]
        fields = [".name = %s" % cstr(name), ".type = %s" % SHAPE_TYPES[s["type"]], ".pattern = -1"]
        if s["type"] == "structure":
            rows = []
            for mname, m in s.get("members", {}).items():
                if m.get("location") in ("header", "headers", "querystring", "uri", "statusCode"):
                    continue
                rows.append("{%s, %s, &%s, 0}" % (cstr(mname), cstr(lower_first(mname)),
                                                  out_shape_ref(svc, m["shape"])))
            if rows:
                mn = cname + "_members"
                defs.append("static const sl_member %s[] = {\n    %s,\n};" % (
                    mn, ",\n    ".join(rows)))
                fields += [".members = %s" % mn, ".n_members = %d" % len(rows)]
        elif s["type"] == "list":
            fields.append(".member = &%s" % out_shape_ref(svc, s["member"]["shape"]))
        elif s["type"] == "map":
            fields.append(".key = &%s" % out_shape_ref(svc, s["key"]["shape"]))
            fields.append(".value = &%s" % out_shape_ref(svc, s["value"]["shape"]))
        defs.append("static const sl_shape %s = {%s};" % (cname, ", ".join(fields)))
        return cname

    svc_rows = []
    for svc in services:
        sid = ident(svc["id"])
        op_rows = []
        for o in svc["ops"]:
            inp = "NULL"
            if o.get("input"):
                inp = "&" + shape_ref(svc, o["input"]["shape"])
            outp = "NULL"
            if o.get("output") and svc["proto"] == "SL_PROTO_AWS_JSON":
                outp = "&" + out_shape_ref(svc, o["output"]["shape"])
            handler = stream = "NULL"
            if o["impl"]:
                kind, fn = o["impl"]
                if kind == "SL_STREAM_HANDLER":
                    stream = fn
                else:
                    handler = fn
                if bool(o.get("streaming")) != (kind == "SL_STREAM_HANDLER"):
                    raise SystemExit("%s.%s: wrong handler kind %s" % (svc["id"], o["name"], kind))
            op_rows.append(
                "{%s, %s, %s, %s, %s, %d, %d, %s, %s, &SVC_%s, %s}" % (
                    cstr(o["name"]), cstr(svc["display"] + "." + o["name"]),
                    cstr(o["http"]["method"]), cstr(o["http"]["requestUri"]), inp,
                    1 if o.get("output") else 0, 1 if o.get("streaming") else 0,
                    handler, stream, sid, outp))
        errs = []
        for name in sorted(svc["model"]["shapes"]):
            s = svc["model"]["shapes"][name]
            if not s.get("exception"):
                continue
            status = (s.get("error") or {}).get("httpStatusCode") or (500 if s.get("fault") else 400)
            lower = 1 if "message" in s.get("members", {}) else 0
            errs.append("{%s, %d, %d}" % (cstr(name), status, lower))
        defs.append("static const sl_service_def SVC_%s;" % sid)
        defs.append("static const sl_op_def OPS_%s[] = {\n    %s,\n};" % (sid, ",\n    ".join(op_rows)))
        defs.append("static const sl_error_def ERRS_%s[] = {\n    %s,\n};" % (sid, ",\n    ".join(errs)))
        defs.append(
            "static const sl_service_def SVC_%s = {%s, %s, %s, %s, %s, %d, OPS_%s, %d, ERRS_%s, %d};"
            % (sid, cstr(svc["id"]), cstr(svc["display"]), svc["proto"],
               cstr(svc["target"]) if svc["target"] else "NULL", cstr(svc["signing"]),
               svc["max_body"], sid, len(op_rows), sid, len(errs)))
        svc_rows.append("&SVC_%s" % sid)

    # patterns
    pdefs = []
    prow = []
    shared_classes = {}
    for i, (src, comp) in enumerate(pattern_list):
        if "ere" in comp:
            prow.append("{%s, %s, NULL, 0, NULL}" % (cstr(src), cstr(comp["ere"])))
            continue
        prog = comp["prog"]
        cls_rows = []
        for ranges in prog.classes:
            key = tuple(ranges)
            if key not in shared_classes:
                shared_classes[key] = "CLS%d" % len(shared_classes)
                flat = ", ".join("0x%x, 0x%x" % r for r in ranges)
                pdefs.append("static const uint32_t %s[] = {%s};" % (shared_classes[key], flat))
            cls_rows.append("{%s, %d}" % (shared_classes[key], len(ranges)))
        pdefs.append("static const sl_rx_class P%d_classes[] = {%s};" % (i, ", ".join(cls_rows)))
        ins = ", ".join("{%s, %d, %d, %d, %d}" % tuple(x) for x in prog.insts)
        pdefs.append("static const sl_rx_inst P%d_prog[] = {%s};" % (i, ins))
        prow.append("{%s, NULL, P%d_prog, %d, P%d_classes}" % (cstr(src), i, len(prog.insts), i))

    out.extend(decls)
    out.append("")
    out.extend(defs)
    out.append("")
    out.extend(pdefs)
    out.append("")
    out.append("const sl_pattern_def sl_api_patterns[] = {\n    %s,\n};" % ",\n    ".join(prow))
    out.append("const size_t sl_api_n_patterns = %d;" % len(prow))
    out.append("const sl_service_def *const sl_api_services[] = {%s};" % ", ".join(svc_rows))
    out.append("const size_t sl_api_n_services = %d;" % len(svc_rows))
    out.append("")


def gen_h(services):
    out = ["/* Generated by scripts/gen_api_tables.py from api/handlers.def: do not edit.",
           " * Prototypes of every registered operation handler. */",
           "#ifndef SL_API_HANDLERS_H", "#define SL_API_HANDLERS_H",
           '#include "sluice/api_model.h"', ""]
    for svc in services:
        for o in svc["ops"]:
            if o["impl"]:
                kind, fn = o["impl"]
                if kind == "SL_STREAM_HANDLER":
                    out.append("void %s(sl_exchange *ex, const sl_http_request *req, void *ud);" % fn)
                else:
                    out.append("void %s(sl_api_call *call);" % fn)
    out += ["", "#endif", ""]
    return "\n".join(out)


def gen_docs(services):
    out = ["# Operations", "",
           "Generated by `scripts/gen_api_tables.py` from `shared/aws-models` and "
           "`api/handlers.def`; do not edit",
           "by hand (the `docs_operations_current` test fails when this file is stale).", "",
           "Every operation of every model is routed and its input is checked against the "
           "model's",
           "constraints. Operations marked *not yet* then answer HTTP **501** with error type",
           "`NotImplementedException` and the message `Sluice does not implement "
           "<Service>.<Operation> yet`",
           "(AWS JSON 1.1: `{\"__type\",\"message\"}` body; REST-JSON: `x-amzn-ErrorType` "
           "header and",
           "`{\"__type\",\"Message\"}` body).", ""]
    total = impl = 0
    for svc in services:
        n_impl = sum(1 for o in svc["ops"] if o["impl"])
        total += len(svc["ops"])
        impl += n_impl
        out.append("## %s (`%s`, %s %s)" % (svc["display"], svc["id"], svc["protocol"],
                                           svc["version"]))
        out.append("")
        if svc["target"]:
            out.append("`POST /` with `X-Amz-Target: %s.<Operation>`; SigV4 service `%s`. "
                       "%d of %d implemented." % (svc["target"], svc["signing"], n_impl,
                                                 len(svc["ops"])))
        else:
            out.append("REST-JSON; SigV4 service `%s`. %d of %d implemented." % (
                svc["signing"], n_impl, len(svc["ops"])))
        out.append("")
        if svc["target"]:
            out.append("| operation | status |")
            out.append("|---|---|")
        else:
            out.append("| operation | request | status |")
            out.append("|---|---|---|")
        for o in svc["ops"]:
            status = "implemented" if o["impl"] else "not yet"
            note = " (not in the model)" if o.get("extra") else ""
            if svc["target"]:
                out.append("| %s%s | %s |" % (o["name"], note, status))
            else:
                out.append("| %s%s | `%s %s` | %s |" % (o["name"], note, o["http"]["method"],
                                                       o["http"]["requestUri"], status))
        out.append("")
    out.append("Total: %d of %d operations implemented." % (impl, total))
    out.append("")
    return "\n".join(out)


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--handlers", required=True)
    ap.add_argument("--out-c")
    ap.add_argument("--out-h")
    ap.add_argument("--out-docs")
    ap.add_argument("--check-docs")
    args = ap.parse_args()
    services = load(args.models, read_handlers(args.handlers))
    if args.out_c:
        out = []
        gen_c(services, out)
        write_if_changed(args.out_c, "\n".join(out))
    if args.out_h:
        write_if_changed(args.out_h, gen_h(services))
    docs = gen_docs(services)
    if args.out_docs:
        write_if_changed(args.out_docs, docs)
    if args.check_docs:
        try:
            with open(args.check_docs, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        if current != docs:
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(True), docs.splitlines(True), "committed", "generated"))
            print("\n%s is stale: copy the generated docs/operations.md from the build "
                  "directory over it" % args.check_docs)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
