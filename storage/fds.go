package storage

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// maxOpenFiles bounds the descriptors one Storage keeps open. A torrent may
// hold far more files than the process may open (tens of thousands of small
// files against a limit of 1024), so files are opened on first use and the
// least recently used idle one is closed to make room.
const maxOpenFiles = 128

// fdCache holds the open descriptors of one Storage's files. A descriptor
// in use (acquired and not released) is never closed; when every cached one
// is in use the cache grows past its bound until they are released, so the
// excess is bounded by the number of concurrent reads and writes. Its
// methods are safe for concurrent use.
type fdCache struct {
	root  *os.Root
	flag  int
	names []string // clean path of each file, by layout index
	max   int

	mu    sync.Mutex
	open  map[int]*fdEntry
	clock uint64 // use counter for LRU order
}

// fdEntry is one open descriptor.
type fdEntry struct {
	f       *os.File
	cache   *fdCache
	file    int // layout index
	refs    int
	lastUse uint64
	stale   bool // close on last release: the path now names another file
}

func newFDCache(root *os.Root, flag int, names []string, max int) *fdCache {
	return &fdCache{root: root, flag: flag, names: names, max: max, open: make(map[int]*fdEntry)}
}

// put adopts a descriptor Open already holds for file i, closing it at once
// if the cache is full.
func (c *fdCache) put(i int, f *os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.open) >= c.max {
		f.Close()
		return
	}
	c.clock++
	c.open[i] = &fdEntry{f: f, cache: c, file: i, lastUse: c.clock}
}

// acquire returns file i's descriptor, opening it if needed, and its entry,
// whose release must be called once the caller is done with it. (An entry
// rather than a release closure: a closure would be an allocation per read
// or write.)
func (c *fdCache) acquire(i int) (*os.File, *fdEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == nil {
		return nil, nil, fmt.Errorf("storage: %q: %w", c.names[i], os.ErrClosed)
	}
	e := c.open[i]
	if e == nil {
		if len(c.open) >= c.max {
			c.evictLocked()
		}
		f, err := c.root.OpenFile(c.names[i], c.flag, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("storage: reopen %q: %w", c.names[i], unwrapPath(err))
		}
		e = &fdEntry{f: f, cache: c, file: i}
		c.open[i] = e
	}
	c.clock++
	e.lastUse = c.clock
	e.refs++
	return e.f, e, nil
}

// release ends a use of the descriptor begun by acquire.
func (e *fdEntry) release() {
	c := e.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.refs == 0 && (e.stale || c.open == nil) {
		e.f.Close()
		if c.open != nil && c.open[e.file] == e {
			delete(c.open, e.file)
		}
	}
}

// evictLocked closes the least recently used idle descriptor, if any.
func (c *fdCache) evictLocked() {
	victim, oldest := -1, uint64(0)
	for i, e := range c.open {
		if e.refs == 0 && (victim < 0 || e.lastUse < oldest) {
			victim, oldest = i, e.lastUse
		}
	}
	if victim >= 0 {
		c.open[victim].f.Close()
		delete(c.open, victim)
	}
}

// forget drops file i's descriptor (at once, or when its last user releases
// it), so the next use opens whatever the path names now.
func (c *fdCache) forget(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.open[i]
	if e == nil {
		return
	}
	delete(c.open, i)
	if e.refs == 0 {
		e.f.Close()
	} else {
		e.stale = true
	}
}

// numOpen returns how many descriptors are open.
func (c *fdCache) numOpen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.open)
}

// close closes every idle descriptor and the rest as they are released;
// later acquires fail.
func (c *fdCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for i, e := range c.open {
		if e.refs > 0 {
			e.stale = true
			continue
		}
		if err := e.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("storage: close %q: %w", c.names[i], unwrapPath(err)))
		}
	}
	c.open = nil
	return errors.Join(errs...)
}
