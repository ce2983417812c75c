package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/shoal-p2p/shoal/client"
	"github.com/shoal-p2p/shoal/metainfo"
	bolt "go.etcd.io/bbolt"
)

// Resume state: what lets a restart trust the pieces on disk instead of
// hashing them again. For each torrent the index keeps, in the resume
// bucket, the pieces known verified and on stable storage, and a stamp of
// each of its files (size, modification time, inode) taken when that was
// known. At start, a piece is trusted when the record says it was verified
// and every file it touches still matches its stamp; every other piece is
// hashed as before.
//
// Records are written:
//   - while a torrent downloads, every Config.CheckpointEvery once new
//     pieces verified: the pieces come from client.Torrent.Checkpoint,
//     which syncs the files first, so no recorded piece can be lost by a
//     crash. Such a record is not clean: our own writes go on changing the
//     files' mtimes, so after a crash only size and inode are compared.
//     Pieces verified after the last checkpoint (and anything written but
//     not verified) are not in the record and are hashed at the restart;
//   - clean when no write of ours can follow: at completion (after the
//     final sync), when a torrent stops (after Close synced it), and after
//     the start-up check of a complete torrent. A clean record also
//     compares mtimes, so a file changed while the agent was down (by hand,
//     a restore, bit rot that a tool touched) is hashed again whole.
//
// The stamps of a record are taken after the data they vouch for was
// written and before anything could have changed it since, so a change
// made later always shows as a different stamp. Equality, not order, is
// compared: a clock jump cannot make a changed file look unchanged. The
// one case a stamp cannot see is a foreign write to a file of an
// incomplete torrent between a crash and the restart (the record is not
// clean then); peers then find bad pieces by their hashes as they would
// from any client, and the rechecker re-hashes what a peer complained of.

var bucketResume = []byte("resume")

// resumeRecord is the resume state of one torrent.
type resumeRecord struct {
	// Pieces is the number of pieces and Have the bitfield (BEP 3 order:
	// piece 0 is the high bit of the first byte) of those verified.
	Pieces int    `json:"pieces"`
	Have   []byte `json:"have"`
	// Files stamps each file of the torrent, in the info dictionary's
	// order.
	Files []fileStamp `json:"files"`
	// Clean says no write of ours followed the stamps: mtimes count.
	Clean bool `json:"clean,omitempty"`
}

// fileStamp is what a file was when a record was written.
type fileStamp struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ino   uint64 `json:"ino,omitempty"`
	// Missing marks a file that could not be stat'ed.
	Missing bool `json:"missing,omitempty"`
}

// stampFiles stats paths.
func stampFiles(paths []string) []fileStamp {
	out := make([]fileStamp, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			out[i].Missing = true
			continue
		}
		out[i].Size, out[i].Mtime = fi.Size(), fi.ModTime().UnixNano()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			out[i].Ino = uint64(st.Ino)
		}
	}
	return out
}

// packBits and unpackBits convert a piece set to and from a bitfield.
func packBits(have []bool) []byte {
	b := make([]byte, (len(have)+7)/8)
	for i, h := range have {
		if h {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return b
}

func unpackBits(b []byte, n int) []bool {
	if len(b) != (n+7)/8 {
		return nil
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = b[i/8]&(0x80>>(i%8)) != 0
	}
	return out
}

// trustedPieces decides which pieces a restart may trust: those the record
// has, in files that all still match their stamps (lengths are the
// torrent's file lengths, in order). It is pure; nil trusts nothing.
func trustedPieces(rec *resumeRecord, now []fileStamp, lengths []int64, pieceLength int64, numPieces int) []bool {
	if rec == nil || rec.Pieces != numPieces || len(rec.Files) != len(lengths) || len(now) != len(lengths) || pieceLength <= 0 {
		return nil
	}
	have := unpackBits(rec.Have, numPieces)
	if have == nil {
		return nil
	}
	var off int64
	for i, n := range lengths {
		was, is := rec.Files[i], now[i]
		same := !was.Missing && !is.Missing && is.Size == n && was.Size == n && is.Ino == was.Ino &&
			(!rec.Clean || is.Mtime == was.Mtime)
		if !same && n > 0 {
			first, end := int(off/pieceLength), int((off+n+pieceLength-1)/pieceLength)
			for p := first; p < end && p < numPieces; p++ {
				have[p] = false
			}
		}
		off += n
	}
	return have
}

// countTrue counts the set entries of a piece set.
func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// filePaths lists the absolute paths of a torrent's files on disk, in
// the info dictionary's order, and their lengths.
func (a *Agent) filePaths(rec torrentRecord, info *metainfo.Info) ([]string, []int64, error) {
	files, err := info.LocalFiles()
	if err != nil {
		return nil, nil, err
	}
	base, root := a.contentDir(rec.InfoHash), info.Name
	if rec.Path != "" {
		base, root = filepath.Dir(rec.Path), filepath.Base(rec.Path)
	}
	paths := make([]string, len(files))
	lengths := make([]int64, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(base, root+strings.TrimPrefix(f.Path, info.Name))
		lengths[i] = f.Length
	}
	return paths, lengths, nil
}

// resumeFor returns the pieces of rec a start may trust and the stamps of
// its files now (taken before the check, for the record written after it).
func (a *Agent) resumeFor(rec torrentRecord, info *metainfo.Info) (trusted []bool, stamps []fileStamp) {
	paths, lengths, err := a.filePaths(rec, info)
	if err != nil {
		return nil, nil
	}
	stamps = stampFiles(paths)
	r, err := a.ix.resume(rec.InfoHash)
	if err != nil {
		a.log.Warn("resume state unreadable: hashing every piece", "torrent", rec.Name, "err", err)
		return nil, stamps
	}
	return trustedPieces(r, stamps, lengths, info.PieceLength, info.NumPieces()), stamps
}

// recordResume writes the resume state of a torrent: have (verified and
// durable pieces) and the stamps of its files (nil: stat them now).
func (a *Agent) recordResume(rec torrentRecord, info *metainfo.Info, have []bool, stamps []fileStamp, clean bool) {
	if stamps == nil {
		paths, _, err := a.filePaths(rec, info)
		if err != nil {
			return
		}
		stamps = stampFiles(paths)
	}
	r := resumeRecord{Pieces: len(have), Have: packBits(have), Files: stamps, Clean: clean}
	if err := a.ix.putResume(rec.InfoHash, r); err != nil {
		a.log.Warn("resume state not recorded (the next start hashes more)", "torrent", rec.Name, "err", err)
	}
}

func (ix *index) putResume(ih string, r resumeRecord) error { return ix.put(bucketResume, ih, r) }

// resume returns the resume record of ih, nil if none.
func (ix *index) resume(ih string) (*resumeRecord, error) {
	var r *resumeRecord
	err := ix.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketResume).Get([]byte(ih))
		if v == nil {
			return nil
		}
		r = new(resumeRecord)
		if err := json.Unmarshal(v, r); err != nil {
			return fmt.Errorf("agent: index: resume/%s: %w", ih, err)
		}
		return nil
	})
	return r, err
}

// followDownload waits for a torrent to complete, recording its verified
// pieces every CheckpointEvery as they grow. It reports false when the
// entry stopped first.
func (a *Agent) followDownload(e *entry, mi *metainfo.MetaInfo, t *client.Torrent) bool {
	tick := time.NewTicker(a.cfg.CheckpointEvery)
	defer tick.Stop()
	recorded := -1 // the first tick records what the start found
	for {
		select {
		case <-e.ctx.Done():
			return false
		case <-t.Done():
			return true
		case <-tick.C:
		}
		have := t.Stats().Have
		if have == recorded {
			continue
		}
		v, err := t.Checkpoint()
		if err != nil {
			a.log.Warn("checkpoint", "torrent", e.rec.Name, "err", err)
			continue
		}
		a.mu.Lock()
		rec := e.rec
		a.mu.Unlock()
		a.recordResume(rec, &mi.Info, v, nil, false)
		recorded = have
	}
}
