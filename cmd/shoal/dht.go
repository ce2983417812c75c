package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/shoal-p2p/shoal/client"
	"github.com/shoal-p2p/shoal/dht"
)

// runDHT runs a standalone DHT node (BEP 5), e.g. the bootstrap node of a
// swarm with no tracker, until interrupted.
func runDHT(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dht", flag.ContinueOnError)
	listen := fs.String("listen", ":6881", "UDP `address` of the node")
	var bootstrap stringList
	fs.Var(&bootstrap, "dht-bootstrap", "`HOST:PORT` of a node to join through (repeatable)")
	state := fs.String("state", "", "keep the routing table in `FILE`: loaded at start, saved on exit")
	verbose := fs.Bool("verbose", false, "log DHT events")
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	cfg := client.LoopbackDHTConfig(dht.Config{ListenAddr: *listen, Bootstrap: bootstrap, StateFile: *state,
		Logger: newLogger(*verbose)})
	n, err := dht.New(cfg)
	if err != nil {
		return err
	}
	n.Start()
	fmt.Fprintf(os.Stderr, "dht node listening on %s (id %s)\n", n.Addr(), n.ID())
	if len(bootstrap) > 0 || n.Stats().Nodes > 0 {
		go func() {
			if err := n.Bootstrap(ctx); err != nil && ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "dht bootstrap: %v\n", err)
			}
		}()
	}
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			st := n.Stats()
			err := n.Close()
			fmt.Fprintf(os.Stderr, "stopping: %d nodes in the routing table, %d peers stored\n", st.Nodes, st.StoredPeers)
			return err
		case <-tick.C:
			st := n.Stats()
			fmt.Fprintf(os.Stderr, "dht: %d nodes, %d info hashes, %d peers stored, %d queries in\n",
				st.Nodes, st.InfoHashes, st.StoredPeers, st.QueriesIn)
		}
	}
}

// dhtFlags are the DHT options of seed and get.
type dhtFlags struct {
	fs        *flag.FlagSet
	on        *bool
	bootstrap stringList
	listen    *string
	state     *string
}

// addDHTFlags registers --dht, --dht-bootstrap, --dht-listen and
// --dht-state on fs.
func addDHTFlags(fs *flag.FlagSet) *dhtFlags {
	d := &dhtFlags{fs: fs}
	d.on = fs.Bool("dht", false, "find peers on the DHT (BEP 5) and announce there (default: on when no tracker is given)")
	fs.Var(&d.bootstrap, "dht-bootstrap", "`HOST:PORT` of a DHT node to join through (repeatable)")
	d.listen = fs.String("dht-listen", "", "UDP `address` of our DHT node (default: the TCP listen address)")
	d.state = fs.String("dht-state", "", "keep the DHT routing table in `FILE` across runs")
	return d
}

// enabled reports whether to run a DHT node: as --dht says when given,
// otherwise defaultOn.
func (d *dhtFlags) enabled(defaultOn bool) bool {
	set := false
	d.fs.Visit(func(f *flag.Flag) {
		if f.Name == "dht" {
			set = true
		}
	})
	if set {
		return *d.on
	}
	return defaultOn
}

// apply sets the DHT fields of a client configuration.
func (d *dhtFlags) apply(cfg *client.Config, on bool) {
	cfg.DHT = on
	cfg.DHTBootstrap = d.bootstrap
	cfg.DHTListenAddr = *d.listen
	cfg.DHTStateFile = *d.state
}

// errNoDHTContact explains a DHT with nobody to ask.
var errNoDHTContact = errors.New("no way to find peers: no tracker, no peer, and the DHT has no node to start from; give --dht-bootstrap HOST:PORT (or --dht-state FILE of an earlier run), --peer HOST:PORT or --tracker URL")

// canJoin reports whether the DHT has a way in.
func (d *dhtFlags) canJoin() bool {
	if len(d.bootstrap) > 0 {
		return true
	}
	if *d.state != "" {
		if _, err := os.Stat(*d.state); err == nil {
			return true
		}
	}
	return false
}

// printDHT reports the DHT node's address, without the "listening on"
// words the TCP line uses.
func printDHT(c *client.Client) {
	if n := c.DHT(); n != nil {
		fmt.Fprintf(os.Stderr, "dht node on udp %s\n", n.Addr())
	}
}
