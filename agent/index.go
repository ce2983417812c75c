package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The index is the store's table of contents, in one bbolt file
// (DIR/index.db). Every change is one transaction, so a crash or kill -9
// leaves either the old or the new state, never half of one; bbolt's file
// lock keeps a second agent off the same folder.

var (
	bucketTorrents  = []byte("torrents")
	bucketChannels  = []byte("channels")
	bucketPublished = []byte("published")
)

// ErrDirInUse reports that another agent holds the data folder.
var ErrDirInUse = errors.New("agent: data folder in use by another agent")

// torrentRecord is what the index keeps about one torrent.
type torrentRecord struct {
	InfoHash string `json:"info_hash"`
	Name     string `json:"name"`
	// Info is the bencoded info dictionary; empty while a magnet link's
	// metadata is being fetched.
	Info   []byte `json:"info,omitempty"`
	Magnet string `json:"magnet,omitempty"`
	// Trackers are the announce URLs the torrent brought with it.
	Trackers []string `json:"trackers,omitempty"`
	// Path, when set, is local content seeded in place (never deleted by
	// the agent); otherwise the files live in DIR/content/INFOHASH.
	Path  string    `json:"path,omitempty"`
	Size  int64     `json:"size"`
	Added time.Time `json:"added"`
	// Order numbers torrents in the order they were added (a counter in
	// the index, not a clock): the disk collector deletes the lowest
	// first, whatever the wall clock did meanwhile. 0 in records written
	// before it existed.
	Order     uint64    `json:"order,omitempty"`
	Completed time.Time `json:"completed,omitzero"`
	Pinned    bool      `json:"pinned,omitempty"`
	// Channel and Seq name the release this torrent is, if any.
	Channel     string    `json:"channel,omitempty"`
	Seq         uint64    `json:"seq,omitempty"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	// Origin marks a release this agent published: it is seeded in
	// initial-seeding mode (each piece out once before any twice).
	Origin bool `json:"origin,omitempty"`
}

// channelRecord is what the index keeps about one channel.
type channelRecord struct {
	Name       string `json:"name"`
	Subscribed bool   `json:"subscribed"`
	Current    uint64 `json:"current,omitempty"`
	// HookRan is the highest release whose on-complete hook finished.
	HookRan uint64   `json:"hook_ran,omitempty"`
	Pinned  []uint64 `json:"pinned,omitempty"`
}

// publishedRecord is a release this agent published, kept so it can be
// registered again with a tracker that lost it (a restart on the memory
// store).
type publishedRecord struct {
	Channel  string `json:"channel"`
	Seq      uint64 `json:"seq"`
	InfoHash string `json:"info_hash"`
	Key      string `json:"key,omitempty"`
}

// index is the bbolt-backed table of contents.
type index struct {
	db *bolt.DB
}

// openIndex opens or creates the index at path (mode 0600: it holds
// publish keys).
func openIndex(path string) (*index, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is locked", ErrDirInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("agent: open index %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTorrents, bucketChannels, bucketPublished, bucketResume} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("agent: init index %s: %w", path, err)
	}
	return &index{db: db}, nil
}

func (ix *index) close() error { return ix.db.Close() }

// put stores v as JSON under key in bucket, in one transaction.
func (ix *index) put(bucket []byte, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	err = ix.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), b) })
	if err != nil {
		return fmt.Errorf("agent: index: write %s/%s: %w", bucket, key, err)
	}
	return nil
}

func (ix *index) delete(bucket []byte, key string) error {
	err := ix.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(key)) })
	if err != nil {
		return fmt.Errorf("agent: index: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// each decodes every value of bucket into a fresh T and passes it to fn.
func each[T any](ix *index, bucket []byte, fn func(T)) error {
	return ix.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var r T
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("agent: index: %s/%s: %w", bucket, k, err)
			}
			fn(r)
			return nil
		})
	})
}

func (ix *index) putTorrent(r torrentRecord) error { return ix.put(bucketTorrents, r.InfoHash, r) }

// deleteTorrent drops a torrent and its resume state in one transaction.
func (ix *index) deleteTorrent(ih string) error {
	err := ix.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketResume).Delete([]byte(ih)); err != nil {
			return err
		}
		return tx.Bucket(bucketTorrents).Delete([]byte(ih))
	})
	if err != nil {
		return fmt.Errorf("agent: index: delete torrent %s: %w", ih, err)
	}
	return nil
}

func (ix *index) putChannel(r channelRecord) error { return ix.put(bucketChannels, r.Name, r) }
func (ix *index) deleteChannel(name string) error  { return ix.delete(bucketChannels, name) }

func (ix *index) torrents() ([]torrentRecord, error) {
	var out []torrentRecord
	err := each(ix, bucketTorrents, func(r torrentRecord) { out = append(out, r) })
	return out, err
}

func (ix *index) channels() ([]channelRecord, error) {
	var out []channelRecord
	err := each(ix, bucketChannels, func(r channelRecord) { out = append(out, r) })
	return out, err
}

// publishedKey orders published releases by channel, then sequence.
func publishedKey(channel string, seq uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return channel + "\x00" + string(b[:])
}

func (ix *index) putPublished(p publishedRecord) error {
	return ix.put(bucketPublished, publishedKey(p.Channel, p.Seq), p)
}

func (ix *index) deletePublished(channel string, seq uint64) error {
	return ix.delete(bucketPublished, publishedKey(channel, seq))
}

func (ix *index) published() ([]publishedRecord, error) {
	var out []publishedRecord
	err := each(ix, bucketPublished, func(r publishedRecord) { out = append(out, r) })
	return out, err
}
