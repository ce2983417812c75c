package tracker

import (
	"embed"
	"io/fs"
	"net/http"
)

// fleetAssets are the fleet page's files, embedded so the tracker binary
// serves the page with nothing to install and nothing fetched from
// elsewhere.
//
//go:embed fleetpage/index.html fleetpage/fleet.css fleetpage/fleet.js
var fleetAssets embed.FS

// fleetPageCSP allows the page only its own scripts, styles and API.
const fleetPageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// handlePage serves the fleet page at / and its assets under /fleet/.
func (a *channelAPI) handlePage() {
	sub, err := fs.Sub(fleetAssets, "fleetpage")
	if err != nil {
		panic(err) // the embed pattern above names the directory
	}
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/fleet/", http.FileServerFS(sub))
	secure := func(w http.ResponseWriter) {
		w.Header().Set("Content-Security-Policy", fleetPageCSP)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
	}
	a.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(index)
	})
	a.mux.HandleFunc("GET /fleet/", func(w http.ResponseWriter, r *http.Request) {
		secure(w)
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
