package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/shoal-p2p/shoal/channel"
	"github.com/shoal-p2p/shoal/metainfo"
)

// Bounds of API request bodies.
const (
	// MaxTorrentBody bounds a .torrent posted to /v1/torrents.
	MaxTorrentBody = 16 << 20
	// MaxJSONBody bounds every JSON request body.
	MaxJSONBody = 64 << 10
	// maxPins bounds the releases one subscribe request may pin.
	maxPins = 64
)

// requestError is a malformed request: the API answers 400 with its text.
type requestError struct{ err error }

func (e requestError) Error() string { return e.err.Error() }
func (e requestError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error { return requestError{fmt.Errorf(format, args...)} }

// AddRequest is the JSON form of POST /v1/torrents: a Magnet, a Path, or a
// Torrent (with a Path: seed that torrent from the files there).
type AddRequest struct {
	// Torrent is a .torrent file's bytes (base64 in JSON).
	Torrent []byte `json:"torrent,omitempty"`
	// Magnet is a magnet link; the info dictionary comes from peers.
	Magnet string `json:"magnet,omitempty"`
	// Path is local content (absolute) to make a torrent of and seed in
	// place.
	Path string `json:"path,omitempty"`
	// PieceLength is the piece length for Path (0: automatic).
	PieceLength int64 `json:"piece_length,omitempty"`
	// Pin keeps the torrent from the disk collector; default true for
	// torrents added through the API.
	Pin *bool `json:"pin,omitempty"`
}

// addInput is a parsed POST /v1/torrents body.
type addInput struct {
	mi          *metainfo.MetaInfo
	magnet      *metainfo.Magnet
	path        string
	pieceLength int64
	pin         bool
}

// parseAddBody parses a POST /v1/torrents body: a JSON object (AddRequest)
// when it starts with '{', else the bytes of a .torrent file.
func parseAddBody(body []byte) (addInput, error) {
	if len(body) == 0 {
		return addInput{}, badRequest("empty body: want .torrent bytes, {\"magnet\": ...} or {\"path\": ...}")
	}
	if len(body) > MaxTorrentBody {
		return addInput{}, badRequest("body of %d bytes, limit %d", len(body), MaxTorrentBody)
	}
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		var req AddRequest
		if err := decodeJSON(body, &req); err != nil {
			return addInput{}, err
		}
		in := addInput{pin: req.Pin == nil || *req.Pin, pieceLength: req.PieceLength}
		switch {
		case req.Magnet != "" && (req.Path != "" || len(req.Torrent) > 0):
			return addInput{}, badRequest("give magnet or path, not both")
		case len(req.Torrent) > 0:
			mi, err := metainfo.Parse(req.Torrent)
			if err != nil {
				return addInput{}, badRequest("parse torrent: %w", err)
			}
			in.mi = mi
			if req.Path != "" {
				if !filepath.IsAbs(req.Path) {
					return addInput{}, badRequest("path %q: want an absolute path", req.Path)
				}
				in.path = filepath.Clean(req.Path)
			}
		case req.Magnet != "":
			m, err := metainfo.ParseMagnet(req.Magnet)
			if err != nil {
				return addInput{}, badRequest("magnet: %w", err)
			}
			in.magnet = &m
		case req.Path != "":
			if !filepath.IsAbs(req.Path) {
				return addInput{}, badRequest("path %q: want an absolute path", req.Path)
			}
			if req.PieceLength < 0 {
				return addInput{}, badRequest("piece_length %d: want 0 (automatic) or a power of two", req.PieceLength)
			}
			in.path = filepath.Clean(req.Path)
		default:
			return addInput{}, badRequest("want {\"magnet\": ...} or {\"path\": ...}")
		}
		return in, nil
	}
	mi, err := metainfo.Parse(body)
	if err != nil {
		return addInput{}, badRequest("parse torrent: %w", err)
	}
	return addInput{mi: mi, pin: true}, nil
}

// SubscribeRequest is the optional JSON body of PUT /v1/channels/{name}.
type SubscribeRequest struct {
	// Pin lists releases to finish and keep even when newer ones come.
	Pin []uint64 `json:"pin,omitempty"`
}

// parseSubscribeBody parses a PUT /v1/channels/{name} body; empty is none.
func parseSubscribeBody(body []byte) (SubscribeRequest, error) {
	var req SubscribeRequest
	if len(bytes.TrimSpace(body)) == 0 {
		return req, nil
	}
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	if len(req.Pin) > maxPins {
		return req, badRequest("%d pins, limit %d", len(req.Pin), maxPins)
	}
	for _, p := range req.Pin {
		if p == 0 || p > channel.MaxSeq {
			return req, badRequest("pin %d: want a sequence number from 1 to %d", p, uint64(channel.MaxSeq))
		}
	}
	return req, nil
}

// parsePublishBody parses a POST /v1/channels/{name}/releases body.
func parsePublishBody(body []byte) (PublishRequest, error) {
	var req PublishRequest
	if err := decodeJSON(body, &req); err != nil {
		return req, err
	}
	switch {
	case req.Path == "":
		return req, badRequest("no path: want {\"path\": \"/abs/path\", \"key\": \"KEY\"}")
	case !filepath.IsAbs(req.Path):
		return req, badRequest("path %q: want an absolute path", req.Path)
	case req.Seq > channel.MaxSeq:
		return req, badRequest("seq %d: limit %d", req.Seq, uint64(channel.MaxSeq))
	case req.PieceLength < 0:
		return req, badRequest("piece_length %d: want 0 (automatic) or a power of two", req.PieceLength)
	}
	return req, nil
}

// parseChannelName checks a channel name from a URL.
func parseChannelName(name string) error {
	if err := channel.ValidName(name); err != nil {
		return requestError{err}
	}
	return nil
}

// parseInfoHashParam parses the {infohash} of a URL: 40 hex digits.
func parseInfoHashParam(s string) (metainfo.InfoHash, error) {
	ih, err := metainfo.ParseInfoHash(s)
	if err != nil {
		return ih, badRequest("info hash %q: %w", s, err)
	}
	return ih, nil
}

// decodeJSON decodes exactly one JSON value into v, refusing unknown
// fields and trailing data.
func decodeJSON(body []byte, v any) error {
	if len(body) > MaxJSONBody {
		return badRequest("JSON body of %d bytes, limit %d", len(body), MaxJSONBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("parse JSON body: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("parse JSON body: trailing data after the object")
	}
	return nil
}
