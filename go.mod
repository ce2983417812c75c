module github.com/shoal-p2p/shoal

go 1.26.0

require (
	github.com/anacrolix/missinggo v1.3.0 // indirect
	github.com/anacrolix/missinggo/v2 v2.11.0 // indirect
	github.com/anacrolix/torrent v1.62.0 // indirect
	github.com/huandu/xstrings v1.3.2 // indirect
	golang.org/x/time v0.16.0 // indirect
)
