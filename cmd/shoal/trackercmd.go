package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/shoal-p2p/shoal/tracker"
)

// runTracker serves the tracker over HTTP and UDP until interrupted.
//
//	shoal tracker [--listen ADDR] [--udp-listen ADDR|off] [--store memory|redis://HOST:PORT]
//	              [--keys FILE] [--interval D] [--expire-after N] [--max-numwant N]
//	              [--handout-budget N] [--rate R] [--burst N] [--max-torrents N] [--max-peers N]
//	              [--max-peers-per-ip N] [--ip-limit-exempt PREFIXES]
//	              [--publish-key KEY]... [--channel-releases N]
func runTracker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tracker", flag.ContinueOnError)
	listen := fs.String("listen", ":6969", "TCP `address` for HTTP (/announce, /scrape, /v1/channels, the fleet page at /, /metrics, /healthz); UDP listens on the same address and port unless --udp-listen says otherwise")
	udpListen := fs.String("udp-listen", "", "UDP `address` for BEP 15 announces; empty: the --listen address and port; \"off\": no UDP")
	store := fs.String("store", "memory", "peer and channel store: \"memory\" or redis://HOST:PORT[/DB] to share swarms and release channels between tracker processes")
	keysFile := fs.String("keys", "", "`file` of keys (\"TOKEN [TENANT] [publish]\" per line): makes the tracker private; \"publish\" lets a key publish channel releases too")
	var publishKeys stringList
	fs.Var(&publishKeys, "publish-key", "`key` allowed to publish channel releases (repeatable); with none, every publish is refused")
	channelReleases := fs.Int("channel-releases", tracker.DefaultMaxReleases, "releases kept per channel")
	interval := fs.Duration("interval", 30*time.Second, "announce interval handed to peers")
	expireAfter := fs.Int("expire-after", 3, "forget a peer after this many intervals without an announce")
	maxNumWant := fs.Int("max-numwant", tracker.DefaultMaxNumWant, "most peers handed out per announce")
	budget := fs.Int("handout-budget", 0, "most times one peer is handed out per interval (0: 4*max-numwant; -1: unbounded)")
	rate := fs.Float64("rate", 50, "requests per second allowed per source IP (0: unlimited)")
	burst := fs.Int("burst", 200, "burst of requests allowed per source IP")
	maxTorrents := fs.Int("max-torrents", tracker.DefaultMaxTorrents, "most swarms held (memory store)")
	maxPeers := fs.Int("max-peers", tracker.DefaultMaxPeersPerTorrent, "most peers held per swarm")
	maxPerIP := fs.Int("max-peers-per-ip", tracker.DefaultAddrLimit.Max, "most peers one IP address (an IPv6 /64) holds in one swarm (-1: unbounded); a fleet behind one NAT address needs more, or --ip-limit-exempt")
	exemptFlag := fs.String("ip-limit-exempt", "127.0.0.1/32,::1/128", "comma-separated `prefixes` whose peers --max-peers-per-ip spares and never displaces (\"\": none); by default the loopback addresses, where tests, the demo and the bench run every peer")
	secretFile := fs.String("udp-secret-file", "", "`file` with the hex secret keying UDP connection IDs; trackers behind one address must share it (default: random)")
	verbose := fs.Bool("verbose", false, "log every request")
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	if *maxPerIP == 0 {
		return fmt.Errorf("--max-peers-per-ip 0 would list nobody; use -1 for no bound")
	}

	exempt, err := parsePrefixes(*exemptFlag)
	if err != nil {
		return fmt.Errorf("--ip-limit-exempt: %w", err)
	}
	cfg := tracker.ServerConfig{
		Interval:           *interval,
		PeerTTL:            time.Duration(max(*expireAfter, 1)) * *interval,
		MaxNumWant:         *maxNumWant,
		MaxTorrents:        *maxTorrents,
		MaxPeersPerTorrent: *maxPeers,
		HandoutBudget:      *budget,
		MaxPeersPerAddr:    *maxPerIP,
		AddrLimitExempt:    exempt,
		Logger:             newLogger(*verbose),
	}
	if *rate > 0 {
		cfg.RateLimit = tracker.NewSourceLimiter(*rate, *burst, 0)
	}
	cfg.Channels.Limits.MaxReleases = *channelReleases
	publish := map[string]string{}
	if *keysFile != "" {
		f, err := os.Open(*keysFile)
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		cfg.Keys, publish, err = tracker.ParseKeyFile(f)
		f.Close()
		if err != nil {
			return err
		}
		if len(publishKeys) > 0 {
			return fmt.Errorf("--publish-key with --keys: on a private tracker give the publish right in the keys file (\"TOKEN TENANT publish\"), so the key has a tenant")
		}
	}
	for _, k := range publishKeys {
		if k == "" {
			return fmt.Errorf("--publish-key: empty key")
		}
		publish[k] = ""
	}
	cfg.Channels.PublishKeys = tracker.NewPublishKeys(publish)
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("udp secret: %w", err)
		}
		if cfg.ConnIDSecret, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil || len(cfg.ConnIDSecret) < 16 {
			return fmt.Errorf("udp secret in %s: want at least 16 hex-encoded bytes", *secretFile)
		}
	}
	switch {
	case *store == "memory":
	case strings.HasPrefix(*store, "redis://"), strings.HasPrefix(*store, "rediss://"):
		rs, err := tracker.NewRedisStoreWith(tracker.RedisStoreConfig{URL: *store, TTL: cfg.PeerTTL, MaxPeersPerTorrent: *maxPeers,
			AddrLimit: tracker.AddrLimit{Max: *maxPerIP, Exempt: exempt}})
		if err != nil {
			return err
		}
		defer rs.Close()
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = rs.Ping(pctx)
		cancel()
		if err != nil {
			return err
		}
		cfg.Store = rs
		cs, err := tracker.NewRedisChannelStore(*store, "", cfg.Channels.Limits, cfg.Logger)
		if err != nil {
			return err
		}
		defer cs.Close()
		cfg.Channels.Store = cs // release channels shared by every tracker on this Redis
	default:
		return fmt.Errorf("--store %q: want memory or redis://HOST:PORT", *store)
	}
	srv := tracker.NewServer(cfg)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", *listen, err)
	}
	var pc net.PacketConn
	if *udpListen != "off" {
		uaddr := *udpListen
		if uaddr == "" {
			uaddr = ln.Addr().String() // same IP and port number as HTTP
		}
		if pc, err = net.ListenPacket("udp", uaddr); err != nil {
			ln.Close()
			return fmt.Errorf("udp listen on %q: %w", uaddr, err)
		}
		defer pc.Close()
	}

	hs := srv.HTTPServer()
	fmt.Fprintf(os.Stderr, "listening on %s\n", ln.Addr())
	fmt.Fprintf(os.Stderr, "announce URL: http://%s/announce\n", ln.Addr())
	fmt.Fprintf(os.Stderr, "fleet page: http://%s/\n", ln.Addr())
	if len(publish) == 0 {
		fmt.Fprintln(os.Stderr, "no publish key: every channel publish is refused (add --publish-key KEY)")
	}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if pc != nil {
		fmt.Fprintf(os.Stderr, "udp listening on %s\n", pc.LocalAddr())
		fmt.Fprintf(os.Stderr, "announce URL: udp://%s/announce\n", pc.LocalAddr())
		go func() { errc <- srv.ServeUDP(ctx, pc) }()
	}
	select {
	case err := <-errc:
		hs.Close()
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// parsePrefixes reads a comma-separated list of IP prefixes; a bare
// address is its own /32 or /128. An empty list is empty, not nil.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	out := []netip.Prefix{}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not an IP prefix (like 10.0.0.0/8) or address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
