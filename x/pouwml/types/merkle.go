package types

import "crypto/sha256"

// Domain-separation prefixes of the shard Merkle tree (RFC 6962 style), so a
// leaf can never be passed off as an inner node.
const (
	merkleLeafPrefix  = 0x00
	merkleInnerPrefix = 0x01
)

// MerkleRoot returns the root over the shard hashes in order:
// leaf = SHA-256(0x00 | hash), inner = SHA-256(0x01 | left | right), and a
// level with an odd count carries its last node up unchanged. The root of no
// leaves is SHA-256 of the empty string. Storage peers, publishers and the
// chain all use this one function.
func MerkleRoot(leaves [][]byte) []byte {
	if len(leaves) == 0 {
		sum := sha256.Sum256(nil)
		return sum[:]
	}
	level := make([][]byte, len(leaves))
	for i, leaf := range leaves {
		h := sha256.New()
		h.Write([]byte{merkleLeafPrefix})
		h.Write(leaf)
		level[i] = h.Sum(nil)
	}
	for len(level) > 1 {
		next := make([][]byte, 0, (len(level)+1)/2)
		for i := 0; i+1 < len(level); i += 2 {
			h := sha256.New()
			h.Write([]byte{merkleInnerPrefix})
			h.Write(level[i])
			h.Write(level[i+1])
			next = append(next, h.Sum(nil))
		}
		if len(level)%2 == 1 {
			next = append(next, level[len(level)-1])
		}
		level = next
	}
	return level[0]
}
