package bench

import (
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// Chart geometry, in SVG user units.
const (
	svgW, svgH           = 860, 480
	padL, padR           = 70, 190
	padT, padB           = 40, 55
	plotW, plotH         = svgW - padL - padR, svgH - padT - padB
	legendX              = svgW - padR + 20
	floorColor, srcColor = "#555", "#aa3333"
)

var systemColors = map[string]string{Shoal: "#1f6fb4", Libtorrent: "#e07b10", HTTP: "#2a9a3a"}

// WriteSVG draws the completion CDF (fraction of receivers done against
// time since start, log time axis) of every system's median run, with the
// Kumar-Ross floor and the single-source time as vertical lines.
func WriteSVG(w io.Writer, results []Result) error {
	meds := Medians(results)
	if len(meds) == 0 {
		return errors.New("svg: no results")
	}
	r0 := meds[0].Typical
	lo, hi := r0.FloorS, max(r0.SingleSourceS, r0.FloorS)
	for _, m := range meds {
		for _, t := range m.Typical.FinishS {
			if t > 0 {
				lo, hi = min(lo, t), max(hi, t)
			}
		}
	}
	if !(lo > 0) || math.IsInf(hi, 0) || math.IsNaN(hi) {
		return errors.New("svg: times must be positive and finite")
	}
	// A log axis from a little below the earliest time to a little above
	// the latest, so curves seconds apart and the minutes of a single
	// source both show.
	dlo, dhi := math.Log10(lo*0.7), math.Log10(hi*1.4)
	x := func(t float64) float64 {
		return padL + plotW*(math.Log10(max(t, math.Pow(10, dlo)))-dlo)/(dhi-dlo)
	}
	y := func(frac float64) float64 { return padT + plotH*(1-frac) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgW, svgH)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14">%s</text>`+"\n", padL, html.EscapeString(fmt.Sprintf(
		"Completion CDF: N=%d receivers, F=%.0f MB, links %.1f MB/s (origin %.1f MB/s)",
		r0.Peers, float64(r0.SizeBytes)/1e6, r0.LinkBytesPerS/1e6, r0.OriginBytesPerS/1e6)))

	// Axes and grid: decades with 2 and 5 in between.
	fmt.Fprintf(&b, `<g stroke="#ddd">`)
	for d := math.Floor(dlo); d <= math.Ceil(dhi); d++ {
		for _, m := range []float64{1, 2, 5} {
			t := m * math.Pow(10, d)
			if lt := math.Log10(t); lt < dlo || lt > dhi {
				continue
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x(t), padT, x(t), padT+plotH)
		}
	}
	for i := 0; i <= 4; i++ {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, padL, y(float64(i)/4), padL+plotW, y(float64(i)/4))
	}
	fmt.Fprintf(&b, "</g>\n")
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", padL, padT, plotW, plotH)
	for d := math.Floor(dlo); d <= math.Ceil(dhi); d++ {
		for _, m := range []float64{1, 2, 5} {
			t := m * math.Pow(10, d)
			if lt := math.Log10(t); lt < dlo || lt > dhi {
				continue
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(t), padT+plotH+18, fmtSeconds(t))
		}
	}
	for i := 0; i <= 4; i++ {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%d%%</text>`, padL-6, y(float64(i)/4)+4, 25*i)
	}
	fmt.Fprintf(&b, "\n"+`<text x="%d" y="%d" text-anchor="middle">seconds since the receivers started (log scale)</text>`+"\n", padL+plotW/2, svgH-12)
	fmt.Fprintf(&b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">receivers done</text>`+"\n", padT+plotH/2)

	// Reference lines.
	vline := func(t float64, color, label string, dy int) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="5 4" stroke-width="1.5"/>`,
			x(t), padT, x(t), padT+plotH, color)
		// Labels of lines near the right edge go to their left.
		lx, anchor := x(t)+4, "start"
		if x(t) > padL+0.7*plotW {
			lx, anchor = x(t)-4, "end"
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="%s" text-anchor="%s">%s</text>`+"\n", lx, padT+14+dy, color, anchor, html.EscapeString(label))
	}
	vline(r0.FloorS, floorColor, fmt.Sprintf("floor %.1fs", r0.FloorS), 0)
	vline(r0.SingleSourceS, srcColor, fmt.Sprintf("single source %.1fs", r0.SingleSourceS), 16)

	// One step curve per system, and the legend.
	for i, m := range meds {
		color, ok := systemColor(m.System) // origins.go
		if !ok {
			color = "#777"
		}
		ts := slices.Clone(m.Typical.FinishS)
		slices.Sort(ts)
		n := float64(len(ts))
		var p strings.Builder
		fmt.Fprintf(&p, "M%.1f %.1f", x(0), y(0))
		for k, t := range ts {
			fmt.Fprintf(&p, " H%.1f V%.1f", x(t), y(float64(k+1)/n))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", p.String(), color)
		ly := padT + 10 + 40*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, legendX, ly, legendX+24, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, legendX+30, ly+4, html.EscapeString(m.System))
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#444">T_last %.1fs, eff %.2f</text>`+"\n",
			legendX+30, ly+18, m.Typical.TLastS, m.Typical.Efficiency)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtSeconds labels a tick: 0.5, 2, 100.
func fmtSeconds(t float64) string {
	if t >= 1 {
		return fmt.Sprintf("%.0f", t)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", t), "0"), ".")
}
