package wire

import "fmt"

// BitfieldLen is the size in bytes of the bitfield of a torrent with
// numPieces pieces (BEP 3): one bit per piece, rounded up to whole bytes.
func BitfieldLen(numPieces int) int {
	return (numPieces + 7) / 8
}

// BitfieldFromBools encodes which pieces are held as a BEP 3 bitfield: the
// high bit of the first byte is piece 0, and spare bits at the end are zero.
func BitfieldFromBools(have []bool) []byte {
	b := make([]byte, BitfieldLen(len(have)))
	for i, ok := range have {
		if ok {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return b
}

// ParseBitfield decodes a BEP 3 bitfield for a torrent of numPieces pieces.
// It fails with ErrBadBitfield if b is not exactly BitfieldLen(numPieces)
// bytes or if any spare bit after the last piece is set.
func ParseBitfield(b []byte, numPieces int) ([]bool, error) {
	if numPieces < 0 {
		return nil, fmt.Errorf("%w: negative piece count %d", ErrBadBitfield, numPieces)
	}
	if len(b) != BitfieldLen(numPieces) {
		return nil, fmt.Errorf("%w: %d bytes for %d pieces, want %d", ErrBadBitfield, len(b), numPieces, BitfieldLen(numPieces))
	}
	if spare := numPieces % 8; spare != 0 && b[len(b)-1]&(0xFF>>spare) != 0 {
		return nil, fmt.Errorf("%w: spare bits set after piece %d", ErrBadBitfield, numPieces-1)
	}
	have := make([]bool, numPieces)
	for i := range have {
		have[i] = b[i/8]&(0x80>>(i%8)) != 0
	}
	return have, nil
}
