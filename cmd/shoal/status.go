package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/shoal-p2p/shoal/agent"
)

// runStatus prints one line per channel and torrent of a running agent.
//
//	shoal status [--agent URL] [--json]
func runStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	url := agentFlag(fs)
	asJSON := fs.Bool("json", false, "print the agent's channels and torrents as JSON")
	if _, err := parseFlags(fs, args, 0, 0, ""); err != nil {
		return err
	}
	if *url == "" {
		*url = agent.DefaultAPIAddr
	}
	c, err := agent.NewAPIClient(*url)
	if err != nil {
		return err
	}
	chans, err := c.Channels(ctx)
	if err != nil {
		return err
	}
	torrents, err := c.Torrents(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Channels []agent.ChannelStatus `json:"channels"`
			Torrents []agent.TorrentStatus `json:"torrents"`
		}{chans, torrents})
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAME\tRELEASE\tSTATE\tPROGRESS\tDOWN\tUP\tPEERS")
	for _, ch := range chans {
		state := "subscribed"
		if !ch.Subscribed {
			state = "origin"
		}
		release := fmt.Sprintf("%d", ch.Current)
		if len(ch.Fetching) > 0 {
			state = fmt.Sprintf("fetching %d", ch.Fetching[len(ch.Fetching)-1])
		}
		if ch.Error != "" {
			state += " (" + firstLine(ch.Error) + ")"
		}
		progress := "100.0%"
		if len(ch.Fetching) > 0 {
			progress = fmt.Sprintf("%.1f%%", 100*ch.Progress)
		} else if ch.Current == 0 {
			progress = "-"
		}
		fmt.Fprintf(w, "channel\t%s\t%s\t%s\t%s\t%s/s\t%s/s\t%d\n", ch.Name, release, state, progress,
			formatBytes(ch.DownRate), formatBytes(ch.UpRate), ch.Peers)
	}
	for _, t := range torrents {
		release := "-"
		if t.Channel != "" {
			release = fmt.Sprintf("%s/%d", t.Channel, t.Seq)
		}
		state := t.State
		if t.Error != "" {
			state += " (" + firstLine(t.Error) + ")"
		}
		fmt.Fprintf(w, "torrent\t%s\t%s\t%s\t%.1f%%\t%s/s\t%s/s\t%d\n", t.Name, release, state, 100*t.Progress,
			formatBytes(t.DownRate), formatBytes(t.UpRate), t.Peers)
	}
	return w.Flush()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
