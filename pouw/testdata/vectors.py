#!/usr/bin/env python3
"""Recomputes testdata/vectors.json with hashlib, independently of the Go code."""
import hashlib, json, struct, sys
wb, b, g, wa = bytes(range(32)), bytes(range(32, 64)), bytes(range(64, 96)), bytes(range(96, 128))
m = b"01234567890123456789"
d = hashlib.sha256(b"pouw/v1" + struct.pack(">QI", 7, 3) + bytes([len(m)]) + m + struct.pack(">Q", 42) + wb + b + g + wa).digest()
a = bytes([0xa0]) * 32
t = (2**256) // 1000
out = {
    "work_digest": d.hex(),
    "ticket_value": hashlib.sha256(b"pouw/v1/ticket" + d + a + struct.pack(">Q", 5)).hexdigest(),
    "verdict_commitment": hashlib.sha256(b"pouw/v1/verdict" + struct.pack(">Q", 9) + bytes([len(m)]) + m + b"\x01" + d + b"salt").hexdigest(),
    "target_1_in_1000": "%064x" % t,
    "retarget_got5_want10_factor4": "%064x" % (t * 10 // 5),
}
want = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "testdata/vectors.json"))
bad = [k for k in out if want[k] != out[k]]
print("mismatch: " + ", ".join(bad) if bad else "all vectors match")
sys.exit(1 if bad else 0)
