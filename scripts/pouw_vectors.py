#!/usr/bin/env python3
"""Recomputes every committed work-proof test vector, independently of the Go code.

The hashes of package pouw (version 1 and version 2) and of pouw/statehash
are implemented here a second time, from their written specification (the
doc comments of pouw/pouw.go, pouw/v2.go, pouw/doc.go and
pouw/statehash/statehash.go), with Python's standard library only; BLAKE3,
which hashlib lacks, is implemented below from the BLAKE3 specification.
A disagreement with the committed JSON means the Go code, its vectors or
its specification is wrong.

    /usr/bin/python3 scripts/pouw_vectors.py [--v1 FILE] [--v2 FILE] [--statehash FILE]

The files default to the repository's pouw/testdata/vectors.json,
pouw/testdata/vectors_v2.json and pouw/statehash/testdata/vectors.json.
When the b3sum command is installed, the BLAKE3 here is also compared with
it on a few inputs. Exits 1 naming each mismatch, else prints
"all N vectors match".
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

# ---------------------------------------------------------------------------
# BLAKE3 (hash mode, 32-byte output), from the BLAKE3 specification.
# ---------------------------------------------------------------------------

B3_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
         0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)  # SHA-256's IV
B3_PERMUTATION = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
B3_BLOCK = 64
B3_CHUNK = 1024
CHUNK_START, CHUNK_END, PARENT, ROOT = 1, 2, 4, 8


def _b3_schedule():
    """For each of the 7 rounds, which message word feeds each of the 16
    G inputs: the message is permuted between rounds."""
    order, rounds = list(range(16)), []
    for _ in range(7):
        rounds.append(tuple(order))
        order = [order[p] for p in B3_PERMUTATION]
    return tuple(rounds)


B3_SCHEDULE = _b3_schedule()
# The G applications of one round: the four columns, then the four diagonals.
B3_G_ORDER = ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15),
              (0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14))


def b3_compress(cv, m, counter, block_len, flags):
    """The compression function; returns the first 8 output words (all that
    a chaining value or a 32-byte root output needs)."""
    v = list(cv) + list(B3_IV[:4]) + [counter & MASK32, counter >> 32, block_len, flags]
    for s in B3_SCHEDULE:
        for i, (a, b, c, d) in enumerate(B3_G_ORDER):
            # G(a, b, c, d, m[s[2i]], m[s[2i+1]]), rotations right by 16, 12, 8, 7.
            va, vb, vc, vd = v[a], v[b], v[c], v[d]
            va = (va + vb + m[s[2 * i]]) & MASK32
            vd ^= va
            vd = ((vd >> 16) | (vd << 16)) & MASK32
            vc = (vc + vd) & MASK32
            vb ^= vc
            vb = ((vb >> 12) | (vb << 20)) & MASK32
            va = (va + vb + m[s[2 * i + 1]]) & MASK32
            vd ^= va
            vd = ((vd >> 8) | (vd << 24)) & MASK32
            vc = (vc + vd) & MASK32
            vb ^= vc
            vb = ((vb >> 7) | (vb << 25)) & MASK32
            v[a], v[b], v[c], v[d] = va, vb, vc, vd
    return [v[i] ^ v[i + 8] for i in range(8)]


def _b3_chunk_cv(chunk, counter, root):
    """Chaining value of one chunk (1 to 1024 bytes; empty only for the
    empty input): its blocks chained from the IV, CHUNK_START on the first,
    CHUNK_END (and ROOT when the chunk is the whole input) on the last."""
    cv = B3_IV
    nblocks = max(1, (len(chunk) + B3_BLOCK - 1) // B3_BLOCK)
    for k in range(nblocks):
        block = chunk[k * B3_BLOCK:(k + 1) * B3_BLOCK]
        flags = (CHUNK_START if k == 0 else 0)
        if k == nblocks - 1:
            flags |= CHUNK_END | (ROOT if root else 0)
        words = struct.unpack("<16I", block.ljust(B3_BLOCK, b"\0"))
        cv = b3_compress(cv, words, counter, len(block), flags)
    return cv


def _b3_parent(left, right, root):
    return b3_compress(B3_IV, tuple(left) + tuple(right), 0, B3_BLOCK, PARENT | (ROOT if root else 0))


def _b3_subtree(cvs, root):
    """Chaining value of the subtree over the chunk chaining values cvs (at
    least 2): the left subtree takes the largest power of two of chunks
    that is less than their number, the right one the rest."""
    left = 1
    while left * 2 < len(cvs):
        left *= 2
    lcv = cvs[0] if left == 1 else _b3_subtree(cvs[:left], False)
    rcv = cvs[left] if len(cvs) - left == 1 else _b3_subtree(cvs[left:], False)
    return _b3_parent(lcv, rcv, root)


def blake3(data):
    """BLAKE3-256 of data (hash mode, no key)."""
    data = bytes(data)
    nchunks = max(1, (len(data) + B3_CHUNK - 1) // B3_CHUNK)
    if nchunks == 1:
        out = _b3_chunk_cv(data, 0, True)
    else:
        cvs = [_b3_chunk_cv(data[i * B3_CHUNK:(i + 1) * B3_CHUNK], i, False) for i in range(nchunks)]
        out = _b3_subtree(cvs, True)
    return struct.pack("<8I", *out)


BLAKE3_EMPTY = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
# Known answers on the official BLAKE3 test-vector input (byte i = i mod
# 251), from b3sum 1.2.0 (the reference Rust implementation): one chunk, and
# 2, 3, 4, 6 and 9 chunks, so that the left-heavy split of a chunk count
# that is not a power of two is checked without b3sum (the statehash vectors
# only have trees of 1 and 1024 chunks).
BLAKE3_KNOWN = {
    1: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
    1023: "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
    1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
    2049: "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
    3073: "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
    5121: "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff",
    8193: "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b",
}

# ---------------------------------------------------------------------------
# Shared encodings and inputs.
# ---------------------------------------------------------------------------


def sha256(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def u8(x):
    return struct.pack(">B", x)


def u32(x):
    return struct.pack(">I", x)


def u64(x):
    return struct.pack(">Q", x)


def lp8(b):
    """A byte string prefixed by its length as one byte (the miner or
    verifier address, 1 to 255 bytes)."""
    assert 1 <= len(b) <= 255
    return u8(len(b)) + b


def as_int(h):
    return int.from_bytes(h, "big")


def as_hash(n):
    """A 256-bit big-endian integer, saturated at 2^256-1."""
    return min(n, 2**256 - 1).to_bytes(32, "big")


MINER = b"01234567890123456789"
TASK, JOB, STEP = 7, 3, 42
ANCHOR = bytes([0xA0]) * 32


def target_from_probability(num, den):
    """floor(2^256 * num / den), at most 2^256-1."""
    if den == 0 or num >= den:
        return as_hash(2**256)
    return as_hash((2**256 * num) // den)


TARGET = target_from_probability(1, 1000)

# ---------------------------------------------------------------------------
# Version 1 (pouw/pouw.go): testdata/vectors.json.
# ---------------------------------------------------------------------------


def retarget(old, got, want, factor):
    """old * want / got bounded to [old/factor, old*factor] (got = 0: the
    upper bound), at least 1, at most 2^256-1."""
    factor = max(factor, 1)
    o = as_int(old)
    lo, hi = o // factor, o * factor
    n = hi if got == 0 else min(max(o * want // got, lo), hi)
    return as_hash(max(n, 1))


def v1_vectors():
    hashes = b"".join(bytes(range(32 * k, 32 * k + 32)) for k in range(4))  # W_i, B_i, G_i, W_i+1
    d = sha256(b"pouw/v1", u64(TASK), u32(JOB), lp8(MINER), u64(STEP), hashes)
    return {
        "work_digest": d.hex(),
        "ticket_value": sha256(b"pouw/v1/ticket", d, ANCHOR, u64(5)).hex(),
        "verdict_commitment": sha256(b"pouw/v1/verdict", u64(9), lp8(MINER), b"\x01", d, b"salt").hex(),
        "target_1_in_1000": TARGET.hex(),
        "retarget_got5_want10_factor4": retarget(TARGET, 5, 10, 4).hex(),
    }

# ---------------------------------------------------------------------------
# Version 2 (pouw/v2.go, pouw/doc.go): testdata/vectors_v2.json.
# ---------------------------------------------------------------------------


SAMPLE_COUNT = 64
STREAM_WEIGHTS, STREAM_GRADS = 0, 1


def sample_positions(prev, stream, n, count=SAMPLE_COUNT):
    """SplitMix64 seeded with the big-endian u64 prev[8*stream:8*stream+8];
    position k = floor(z_k * n / 2^64)."""
    (x,) = struct.unpack(">Q", prev[8 * stream:8 * stream + 8])
    out = []
    for _ in range(count):
        x = (x + 0x9E3779B97F4A7C15) & MASK64
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out.append((z * n) >> 64)
    return out


def sample_count(n, values):
    want = 0 if n == 0 else 4 * SAMPLE_COUNT
    assert len(values) == want, "a sample over %d values must be %d bytes" % (n, want)
    return u32(len(values) // 4)


def grad_sample(loss, n, values):
    """SHA-256("pouw/v2/grads" | loss as float32 bits u32 | n u64 | count u32 | values)."""
    return sha256(b"pouw/v2/grads", struct.pack(">f", loss), u64(n), sample_count(n, values), values)


def weight_sample(n, values):
    return sha256(b"pouw/v2/weights-sample", u64(n), sample_count(n, values), values)


def ticket_index(value, target):
    """floor(value / target), saturated at 2^64-1."""
    return min(as_int(value) // as_int(target), MASK64)


def v2_vectors():
    w, o = bytes(range(0, 32)), bytes(range(32, 64))
    link = sha256(b"pouw/v2/link", w, o)
    grads = b"".join(struct.pack("<f", k / 2) for k in range(SAMPLE_COUNT))
    weights = bytes(i % 251 for i in range(4 * SAMPLE_COUNT))
    gs = grad_sample(1.0, 1000003, grads)
    ws = weight_sample(101770, weights)
    batch = bytes(range(64, 96))
    d = sha256(b"pouw/v2", u64(TASK), u32(JOB), lp8(MINER), u64(STEP), link, batch, gs, ws)
    v = sha256(b"pouw/v2/ticket", d, ANCHOR)
    # Tickets j < 166 cover [0, 166*target): the step wins iff v is below it.
    wins = as_int(v) < 166 * as_int(TARGET)
    return {
        "commit_link": link.hex(),
        "weight_positions_n101770": sample_positions(link, STREAM_WEIGHTS, 101770),
        "grad_positions_n1000003": sample_positions(link, STREAM_GRADS, 1000003),
        "grad_sample": gs.hex(),
        "weight_sample": ws.hex(),
        "step_digest": d.hex(),
        "ticket_value": v.hex(),
        "ticket_index_target_1_in_1000": ticket_index(v, TARGET),
        "wins_with_166_tickets": wins,
    }

# ---------------------------------------------------------------------------
# State hash (pouw/statehash): statehash/testdata/vectors.json.
# ---------------------------------------------------------------------------


LEAF_BYTES = 1 << 20


class Leaves:
    """BLAKE3 of each 1 MiB leaf, cached: the vectors hash one leaf twice."""

    def __init__(self):
        self.memo = {}

    def __call__(self, data):
        out = []
        for k in range(0, len(data), LEAF_BYTES):
            leaf = data[k:k + LEAF_BYTES]
            key = hashlib.sha256(leaf).digest()
            if key not in self.memo:
                self.memo[key] = blake3(leaf)
            out.append(self.memo[key])
        return out


def tensor_hash(name, shape, data_bytes, leaves):
    """BLAKE3("pouw/v2/tensor" | u32 len(name) | name | u32 rank | dims u32 |
    u64 data bytes | leaf hashes)."""
    name = name.encode()
    return blake3(b"pouw/v2/tensor" + u32(len(name)) + name + u32(len(shape))
                  + b"".join(u32(x) for x in shape) + u64(data_bytes) + b"".join(leaves))


def state_hash(domain, tensors, leaves_of):
    th = [tensor_hash(n, s, len(d), leaves_of(d)) for n, s, d in tensors]
    return blake3(domain + u32(len(th)) + b"".join(th))


def big_pattern():
    """Bytes (31i + 7) mod 256 for i < 4*262147 (1 MiB + 12 bytes)."""
    period = bytes((31 * i + 7) % 256 for i in range(256))
    n = 4 * 262147
    return (period * (n // 256 + 1))[:n]


def statehash_vectors():
    small = bytes((7 * i) % 256 for i in range(60))
    big = big_pattern()
    tensors = [("fc1.weight", [3, 5], small), ("big", [262147], big), ("empty", [0], b"")]
    leaves_of = Leaves()
    return {
        "leaf_fc1_weight": blake3(small).hex(),
        "tensor_fc1_weight": tensor_hash("fc1.weight", [3, 5], 60, leaves_of(small)).hex(),
        "leaf_big_1": leaves_of(big)[1].hex(),
        "leaf_big_prefix_5121": blake3(big[:5121]).hex(),
        "tensor_empty": tensor_hash("empty", [0], 0, []).hex(),
        "state_weights": state_hash(b"pouw/v2/weights", tensors, leaves_of).hex(),
        "state_optim_first_tensor": state_hash(b"pouw/v2/optim", tensors[:1], leaves_of).hex(),
    }

# ---------------------------------------------------------------------------
# BLAKE3 self-checks.
# ---------------------------------------------------------------------------


def check_blake3(bad):
    """The known answers, and b3sum (when installed) on inputs around the
    block, chunk and tree boundaries."""
    got = blake3(b"").hex()
    if got != BLAKE3_EMPTY:
        bad.append("blake3 of the empty input: got %s, want %s" % (got, BLAKE3_EMPTY))
    for n, want in sorted(BLAKE3_KNOWN.items()):
        got = blake3(bytes(i % 251 for i in range(n))).hex()
        if got != want:
            bad.append("blake3 known answer of %d bytes: got %s, want %s" % (n, got, want))
    b3sum = shutil.which("b3sum")
    if b3sum is None:
        print("b3sum not installed: skipping the comparison with it (apt-get install b3sum)")
        return
    pattern = big_pattern()
    sizes = (0, 1, 1024, 1025, 2048, 3073, len(pattern))
    for n in sizes:
        data = pattern[:n]
        r = subprocess.run([b3sum, "--no-names"], input=data, capture_output=True, check=False)
        want = r.stdout.decode().strip()
        got = blake3(data).hex()
        if r.returncode != 0 or got != want:
            bad.append("blake3 of %d pattern bytes: got %s, b3sum %s" % (n, got, want or r.stderr.decode().strip()))
    print("b3sum compared on inputs of %s bytes" % ", ".join(map(str, sizes)))

# ---------------------------------------------------------------------------


def compare(label, path, got, bad):
    """Compares computed vectors with a JSON file; every key but "comment"
    must be recomputed, so a new vector cannot go unchecked."""
    try:
        with open(path) as f:
            want = json.load(f)
    except (OSError, ValueError) as e:
        bad.append("%s: cannot read %s: %s" % (label, path, e))
        return 0
    want.pop("comment", None)
    for key in sorted(set(want) | set(got)):
        if key not in got:
            bad.append("%s: %s in %s is not recomputed here" % (label, key, path))
        elif key not in want:
            bad.append("%s: %s is missing from %s" % (label, key, path))
        elif want[key] != got[key] or type(want[key]) is not type(got[key]):
            w, g = want[key], got[key]
            if isinstance(w, list) and isinstance(g, list) and len(w) == len(g):
                at = [i for i in range(len(g)) if w[i] != g[i] or type(w[i]) is not type(g[i])]
                w = ", ".join("[%d] %s" % (i, json.dumps(w[i])) for i in at)
                g = ", ".join("[%d] %s" % (i, json.dumps(g[i])) for i in at)
            else:
                w, g = json.dumps(w), json.dumps(g)
            bad.append("%s: %s: file %s, recomputed %s" % (label, key, w, g))
    return len(got)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--v1", default=os.path.join(root, "pouw/testdata/vectors.json"))
    p.add_argument("--v2", default=os.path.join(root, "pouw/testdata/vectors_v2.json"))
    p.add_argument("--statehash", default=os.path.join(root, "pouw/statehash/testdata/vectors.json"))
    args = p.parse_args()

    start = time.monotonic()
    bad = []
    check_blake3(bad)
    n = compare("v1", args.v1, v1_vectors(), bad)
    n += compare("v2", args.v2, v2_vectors(), bad)
    n += compare("statehash", args.statehash, statehash_vectors(), bad)
    secs = time.monotonic() - start
    if bad:
        for b in bad:
            print("MISMATCH " + b)
        print("%d mismatches (%.1f s)" % (len(bad), secs))
        return 1
    print("all %d vectors match (%.1f s)" % (n, secs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
