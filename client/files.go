package client

import (
	"log/slog"

	"github.com/shoal-p2p/shoal/storage"
)

// logTruncated warns about every file storage.Open cut back to its length:
// bytes past a file's end in the torrent belong to no piece, so nothing else
// would notice them.
func logTruncated(log *slog.Logger, st *storage.Storage) {
	for _, tr := range st.Truncated() {
		log.Warn("truncated a file longer than the torrent says", "file", tr.Path, "from", tr.From, "to", tr.To)
	}
}

// Truncated lists the files that were longer than the torrent says when it
// was added and were cut back to their length.
func (t *Torrent) Truncated() []storage.Truncation { return t.st.Truncated() }
