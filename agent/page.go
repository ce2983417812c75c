package agent

import (
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// pageTemplate is the agent's own page: its torrents and channels,
// refreshed every two seconds. No scripts, no assets.
var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct":  func(f float64) string { return formatPercent(f) },
	"rate": func(f float64) string { return formatSize(int64(f)) + "/s" },
	"size": func(n int64) string { return formatSize(n) },
	"ago":  func(t time.Time) string { return time.Since(t).Round(time.Second).String() },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<title>shoal agent {{.Name}}</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}
th,td{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.err{color:#b00}
</style></head><body>
<h1>shoal agent {{.Name}}</h1>
<p>peers on {{.PeerAddr}} · data in {{.Dir}}{{if .DiskErr}} · <span class="err">{{.DiskErr}}</span>{{end}}</p>
<h2>Channels</h2>
{{if .Channels}}<table id="channels"><tr><th>channel</th><th>current</th><th>latest</th><th>fetching</th><th>progress</th><th>down</th><th>up</th><th>peers</th><th>held</th><th></th></tr>
{{range .Channels}}<tr><td>{{.Name}}{{if not .Subscribed}} (origin){{end}}</td><td class="n">{{.Current}}</td><td class="n">{{.Latest}}</td><td>{{range .Fetching}}{{.}} {{end}}</td><td class="n">{{pct .Progress}}</td><td class="n">{{rate .DownRate}}</td><td class="n">{{rate .UpRate}}</td><td class="n">{{.Peers}}</td><td>{{range .Have}}{{.}} {{end}}</td><td class="err">{{.Error}}</td></tr>
{{end}}</table>{{else}}<p>No channels.</p>{{end}}
<h2>Torrents</h2>
{{if .Torrents}}<table id="torrents"><tr><th>name</th><th>info hash</th><th>state</th><th>progress</th><th>size</th><th>down</th><th>up</th><th>peers</th><th>release</th><th></th></tr>
{{range .Torrents}}<tr><td>{{.Name}}</td><td><code>{{.InfoHash}}</code></td><td>{{.State}}</td><td class="n">{{pct .Progress}}</td><td class="n">{{size .Size}}</td><td class="n">{{rate .DownRate}}</td><td class="n">{{rate .UpRate}}</td><td class="n">{{.Peers}}</td><td>{{if .Channel}}{{.Channel}}/{{.Seq}}{{end}}</td><td class="err">{{.Error}}</td></tr>
{{end}}</table>{{else}}<p>No torrents.</p>{{end}}
</body></html>
`))

// servePage is GET /: the agent's page of its torrents and channels.
func (a *Agent) servePage(w http.ResponseWriter, r *http.Request) error {
	a.mu.Lock()
	diskErr := a.diskErr
	a.mu.Unlock()
	data := struct {
		Name, PeerAddr, Dir, DiskErr string
		Torrents                     []TorrentStatus
		Channels                     []ChannelStatus
	}{a.cfg.Name, a.PeerAddr(), a.cfg.Dir, diskErr, a.Torrents(), a.Channels()}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return pageTemplate.Execute(w, data)
}

func formatPercent(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }
