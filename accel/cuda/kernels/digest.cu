// digest.cu: the device side of the version 2 work digest (pouw/v2.go)
// and state hash (pouw/statehash), so that only bytes, not tensors, cross
// to the host. Integer arithmetic only: no float operation appears here
// (floats are moved as their 32-bit patterns).
//
//  1. pouw_sample_gather: the SampleCount float32s at pouw.SamplePositions
//     over the concatenation of T tensors; the host hashes the 4·count
//     bytes (pouw.GradSample, pouw.WeightSample).
//  2. pouw_blake3_leaves: statehash.Leaf (BLAKE3-256, hash mode) of every
//     1 MiB leaf of one buffer; the host combines the 32-byte leaf hashes
//     (statehash.TensorHash, statehash.Combine).
#include "common.cuh"

typedef unsigned int u32;
typedef unsigned long long u64;

// ---------------------------------------------------------------- sampling

// pouw.SamplePositions: SplitMix64 from seed (the big-endian u64
// prev[8·stream..], read on the host), x_k = seed + (k+1)·0x9E3779B97F4A7C15,
// z_k = mix(x_k), position_k = high word of z_k·n. Thread k finds the
// tensor holding position_k by binary search over offsets (T+1 cumulative
// element counts: offsets[0] = 0, offsets[T] = n; empty tensors are
// skipped because the largest i with offsets[i] <= pos has
// offsets[i+1] > pos) and writes the value's 32-bit pattern to out[k].
// n must be > 0. 1-D grid over count.
POUW_KERNEL pouw_sample_gather(u64 seed, int count, i64 n, const u64* bases, const i64* offsets, int T, u32* out) {
	for (i64 k = gidx(); k < count; k += gstride()) {
		u64 z = seed + (u64)(k + 1) * 0x9E3779B97F4A7C15ull;
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		z ^= z >> 31;
		i64 pos = (i64)__umul64hi(z, (u64)n);
		int lo = 0, hi = T; // offsets[lo] <= pos < offsets[hi]
		while (hi - lo > 1) {
			int mid = lo + (hi - lo) / 2;
			if (offsets[mid] <= pos) lo = mid;
			else hi = mid;
		}
		const u32* t = (const u32*)bases[lo];
		out[k] = t[pos - offsets[lo]];
	}
}

// ---------------------------------------------------------------- BLAKE3

// BLAKE3 (https://github.com/BLAKE3-team/BLAKE3-specs), hash mode, 32-byte
// output: the same bits as github.com/zeebo/blake3's Sum256.
#define B3_CHUNK_START 1u
#define B3_CHUNK_END 2u
#define B3_PARENT 4u
#define B3_ROOT 8u
#define B3_CHUNK_LEN 1024
#define B3_BLOCK_LEN 64

// statehash.LeafBytes and the block shape: one block of POUW_THREADS
// threads per leaf, each thread hashing B3_THREAD_CHUNKS consecutive
// chunks.
#define POUW_LEAF_BYTES (1 << 20)
#define B3_LEAF_CHUNKS (POUW_LEAF_BYTES / B3_CHUNK_LEN)
#define B3_THREAD_CHUNKS (B3_LEAF_CHUNKS / POUW_THREADS)
static_assert(B3_THREAD_CHUNKS == 4, "the local merge below covers four chunks (two tree levels)");

POUW_DEV u32 b3_iv(int i) {
	switch (i) {
	case 0: return 0x6A09E667u;
	case 1: return 0xBB67AE85u;
	case 2: return 0x3C6EF372u;
	case 3: return 0xA54FF53Au;
	case 4: return 0x510E527Fu;
	case 5: return 0x9B05688Cu;
	case 6: return 0x1F83D9ABu;
	default: return 0x5BE0CD19u;
	}
}

POUW_DEV u32 rotr32(u32 x, int r) { return (x >> r) | (x << (32 - r)); }

POUW_DEV void b3_g(u32* s, int a, int b, int c, int d, u32 mx, u32 my) {
	s[a] = s[a] + s[b] + mx;
	s[d] = rotr32(s[d] ^ s[a], 16);
	s[c] = s[c] + s[d];
	s[b] = rotr32(s[b] ^ s[c], 12);
	s[a] = s[a] + s[b] + my;
	s[d] = rotr32(s[d] ^ s[a], 8);
	s[c] = s[c] + s[d];
	s[b] = rotr32(s[b] ^ s[c], 7);
}

// The compression function, truncated to the 8-word chaining value (the
// first 8 words of the output, which are also the root's 32 output bytes
// as little-endian words): cv = compress(cv, m, counter, len, flags)[0..8].
POUW_DEV void b3_compress(u32* cv, const u32* block, u64 counter, u32 len, u32 flags) {
	u32 s[16], m[16];
#pragma unroll
	for (int i = 0; i < 16; ++i) m[i] = block[i];
#pragma unroll
	for (int i = 0; i < 8; ++i) s[i] = cv[i];
#pragma unroll
	for (int i = 0; i < 4; ++i) s[8 + i] = b3_iv(i);
	s[12] = (u32)counter;
	s[13] = (u32)(counter >> 32);
	s[14] = len;
	s[15] = flags;
#pragma unroll
	for (int r = 0; r < 7; ++r) {
		b3_g(s, 0, 4, 8, 12, m[0], m[1]);
		b3_g(s, 1, 5, 9, 13, m[2], m[3]);
		b3_g(s, 2, 6, 10, 14, m[4], m[5]);
		b3_g(s, 3, 7, 11, 15, m[6], m[7]);
		b3_g(s, 0, 5, 10, 15, m[8], m[9]);
		b3_g(s, 1, 6, 11, 12, m[10], m[11]);
		b3_g(s, 2, 7, 8, 13, m[12], m[13]);
		b3_g(s, 3, 4, 9, 14, m[14], m[15]);
		if (r < 6) { // the message permutation 2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8
			u32 p[16] = {m[2], m[6], m[3], m[10], m[7], m[0], m[4], m[13],
			             m[1], m[11], m[12], m[5], m[9], m[14], m[15], m[8]};
#pragma unroll
			for (int i = 0; i < 16; ++i) m[i] = p[i];
		}
	}
#pragma unroll
	for (int i = 0; i < 8; ++i) cv[i] = s[i] ^ s[8 + i];
}

// A parent node: cv = compress(IV, left | right, 0, 64, PARENT | root).
POUW_DEV void b3_parent(u32* cv, const u32* left, const u32* right, u32 root) {
	u32 block[16];
#pragma unroll
	for (int i = 0; i < 8; ++i) {
		block[i] = left[i];
		block[8 + i] = right[i];
		cv[i] = b3_iv(i);
	}
	b3_compress(cv, block, 0, B3_BLOCK_LEN, B3_PARENT | root);
}

// One chunk of len bytes (1..1024) at p, chunk counter `counter`: its
// chaining value, or the root output when root = B3_ROOT (a one-chunk
// input). Message words are little-endian: whole 64-byte blocks are read
// with 16- or 4-byte loads (the device and every emulator host are
// little-endian), a final partial block byte by byte with zero padding
// and block_len = the bytes present.
POUW_DEV void b3_chunk(u32* cv, const unsigned char* p, int len, u64 counter, u32 root, int align) {
	u32 block[16];
#pragma unroll
	for (int i = 0; i < 8; ++i) cv[i] = b3_iv(i);
	const int nblocks = (len + B3_BLOCK_LEN - 1) / B3_BLOCK_LEN;
	for (int b = 0; b < nblocks; ++b) {
		const unsigned char* q = p + b * B3_BLOCK_LEN;
		const int blen = imin(B3_BLOCK_LEN, len - b * B3_BLOCK_LEN);
		if (blen == B3_BLOCK_LEN && align == 16) {
			const uint4* v = (const uint4*)q;
#pragma unroll
			for (int i = 0; i < 4; ++i) {
				uint4 w = v[i];
				block[4 * i] = w.x;
				block[4 * i + 1] = w.y;
				block[4 * i + 2] = w.z;
				block[4 * i + 3] = w.w;
			}
		} else if (blen == B3_BLOCK_LEN && align == 4) {
			const u32* v = (const u32*)q;
#pragma unroll
			for (int i = 0; i < 16; ++i) block[i] = v[i];
		} else {
#pragma unroll
			for (int i = 0; i < 16; ++i) {
				u32 w = 0;
#pragma unroll
				for (int j = 0; j < 4; ++j)
					if (4 * i + j < blen) w |= (u32)q[4 * i + j] << (8 * j);
				block[i] = w;
			}
		}
		u32 flags = 0;
		if (b == 0) flags |= B3_CHUNK_START;
		if (b == nblocks - 1) flags |= B3_CHUNK_END | root;
		b3_compress(cv, block, counter, (u32)blen, flags);
	}
}

// statehash.Leaf of every leaf of data[0, nbytes): out[8·l .. 8·l+8] =
// BLAKE3-256(data[l·LeafBytes : min((l+1)·LeafBytes, nbytes)]) as 8
// little-endian words. Grid: one block of 256 threads per leaf
// (ceil(nbytes / LeafBytes) blocks). A leaf of c chunks is BLAKE3's
// left-heavy tree over them, which is the same as merging adjacent
// chaining values pairwise, level by level from the left, an odd last
// node carried up unchanged:
//
//   - thread t hashes chunks 4t..4t+3 (counter = chunk index in the leaf)
//     and merges them so (levels 1 and 2), leaving m = ceil(c/4) <= 256
//     nodes in shared memory;
//   - each further level halves the nodes (thread t < m/2 makes node t
//     from nodes 2t, 2t+1) until one is left;
//   - the last compression (a one-chunk leaf's last block, or the final
//     parent) has the ROOT flag and is the leaf's hash.
POUW_KERNEL pouw_blake3_leaves(const unsigned char* data, i64 nbytes, u32* out) {
	__shared__ u32 cvs[2][POUW_THREADS][8];
	const i64 leaf = blockIdx.x;
	const i64 off = leaf * POUW_LEAF_BYTES;
	if (off >= nbytes) return; // uniform per block: no thread reaches a barrier
	const int len = (int)(nbytes - off < POUW_LEAF_BYTES ? nbytes - off : POUW_LEAF_BYTES);
	const int chunks = (len + B3_CHUNK_LEN - 1) / B3_CHUNK_LEN;
	int m = (chunks + B3_THREAD_CHUNKS - 1) / B3_THREAD_CHUNKS;
	const int t = threadIdx.x;
	const unsigned char* p = data + off;
	const u64 addr = (u64)data;
	const int align = (addr & 15) == 0 ? 16 : (addr & 3) == 0 ? 4 : 1;
	u32* dst = out + leaf * 8;

	if (t < m) {
		const int c0 = t * B3_THREAD_CHUNKS;
		const int k = imin(B3_THREAD_CHUNKS, chunks - c0);
		const u32 root1 = chunks == 1 ? B3_ROOT : 0; // the leaf is one chunk
		// Levels 1 and 2 over this thread's k chunks; the last of these
		// compressions is the root when this thread holds the whole leaf.
		const u32 root2 = m == 1 ? B3_ROOT : 0;
		auto chunk = [&](u32* cv, int j) {
			const int c = c0 + j;
			b3_chunk(cv, p + (i64)c * B3_CHUNK_LEN, imin(B3_CHUNK_LEN, len - c * B3_CHUNK_LEN), (u64)c, root1, align);
		};
		u32 a[8], b[8], l[8], res[8];
		chunk(a, 0);
		if (k == 1) {
#pragma unroll
			for (int i = 0; i < 8; ++i) res[i] = a[i];
		} else {
			chunk(b, 1);
			b3_parent(l, a, b, k == 2 ? root2 : 0);
			if (k == 2) {
#pragma unroll
				for (int i = 0; i < 8; ++i) res[i] = l[i];
			} else if (k == 3) {
				chunk(a, 2);
				b3_parent(res, l, a, root2);
			} else {
				u32 r[8];
				chunk(a, 2);
				chunk(b, 3);
				b3_parent(r, a, b, 0);
				b3_parent(res, l, r, root2);
			}
		}
		u32* w = m == 1 ? dst : cvs[0][t];
#pragma unroll
		for (int i = 0; i < 8; ++i) w[i] = res[i];
	}
	int src = 0;
	while (m > 1) { // m is the same in every thread of the block
		__syncthreads();
		const int pairs = m / 2;
		if (t < pairs) {
			u32* w = m == 2 ? dst : cvs[src ^ 1][t];
			u32 res[8];
			b3_parent(res, cvs[src][2 * t], cvs[src][2 * t + 1], m == 2 ? B3_ROOT : 0);
#pragma unroll
			for (int i = 0; i < 8; ++i) w[i] = res[i];
		} else if (t == pairs && (m & 1)) {
#pragma unroll
			for (int i = 0; i < 8; ++i) cvs[src ^ 1][t][i] = cvs[src][m - 1][i];
		}
		src ^= 1;
		m = (m + 1) / 2;
	}
}
