package dht

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
)

// maxStateFile bounds how much of a state file we read.
const maxStateFile = 1 << 20

type stateFile struct {
	ID    string      `json:"id"`
	Nodes []stateNode `json:"nodes"`
}

type stateNode struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
}

type savedState struct {
	ID    ID
	Nodes []NodeInfo
}

// loadState reads a saved routing table. A missing file is an empty
// state; unparsable entries are skipped.
func loadState(path string) (savedState, error) {
	var s savedState
	if path == "" {
		return s, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("dht: load state: %w", err)
	}
	if len(b) > maxStateFile {
		return s, fmt.Errorf("dht: load state %s: %d bytes is too large", path, len(b))
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return s, fmt.Errorf("dht: load state %s: %w", path, err)
	}
	if id, err := ParseID(f.ID); err == nil {
		s.ID = id
	}
	for _, sn := range f.Nodes {
		id, err1 := ParseID(sn.ID)
		ap, err2 := netip.ParseAddrPort(sn.Addr)
		if err1 == nil && err2 == nil && len(s.Nodes) < NumBuckets*K {
			s.Nodes = append(s.Nodes, NodeInfo{ID: id, Addr: ap})
		}
	}
	return s, nil
}

// SaveState writes the node ID and routing table to Config.StateFile
// (atomically, through a temporary file). It does nothing without one.
func (n *Node) SaveState() error {
	if n.cfg.StateFile == "" {
		return nil
	}
	n.mu.Lock()
	f := stateFile{ID: n.id.String()}
	for _, c := range n.table.Contacts() {
		f.Nodes = append(f.Nodes, stateNode{ID: c.ID.String(), Addr: c.Addr.String()})
	}
	n.mu.Unlock()
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("dht: save state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(n.cfg.StateFile), ".dht-state-*")
	if err != nil {
		return fmt.Errorf("dht: save state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("dht: save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dht: save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), n.cfg.StateFile); err != nil {
		return fmt.Errorf("dht: save state: %w", err)
	}
	return nil
}
