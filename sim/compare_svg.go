package sim

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
)

// compareColors are the series colours of WriteCompareSVG, in order.
var compareColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

// WriteCompareSVG draws the completion curves of several runs of one job
// (fraction of receivers done against finish time) on one standalone SVG
// chart, time on a logarithmic axis since the systems of the seed's
// comparison differ by orders of magnitude, with the first run's floor as
// a vertical line. Each curve is labelled with its system (and policy,
// with racks), T_last and origin egress.
func WriteCompareSVG(w io.Writer, reps []*Report) error {
	bw := bufio.NewWriter(w)
	lo, hi := math.Inf(1), 0.0
	for _, r := range reps {
		if len(r.FinishS) > 0 {
			lo = min(lo, r.FinishS[0])
			hi = max(hi, r.FinishS[len(r.FinishS)-1])
		}
		if r.FloorS > 0 {
			lo, hi = min(lo, r.FloorS), max(hi, r.FloorS)
		}
	}
	if !(lo > 0) || !(hi > lo) {
		lo, hi = 0.1, 10
	}
	// A little room either side of the data, in log10 units.
	dlo, dhi := math.Log10(lo)-0.1, math.Log10(hi)+0.1
	pw, ph := svgW-padL-padR, svgH-padT-padB-float64(18*len(reps))
	x := func(t float64) float64 {
		return padL + pw*(math.Min(math.Max(math.Log10(t), dlo), dhi)-dlo)/(dhi-dlo)
	}
	y := func(f float64) float64 { return padT + ph*(1-f) }

	height := svgH
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, height, svgW, height)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	if len(reps) > 0 {
		r := reps[0]
		fmt.Fprintf(bw, `<text x="%g" y="22" font-size="14">%d receivers, %s, links %s/s: completion of each system (simulated)</text>`+"\n",
			padL, r.Peers, sizeLabel(r.SizeBytes), sizeLabel(int64(r.LinkBytesPerS)))
	}
	fmt.Fprintf(bw, `<path d="M%g %gV%gH%g" fill="none" stroke="black"/>`+"\n", padL, padT, padT+ph, padL+pw)
	// Decades labelled, 2 to 9 times them as light lines (2 and 5 also
	// labelled when the range is under two decades).
	for d := math.Floor(dlo); d <= dhi; d++ {
		for m := 1.0; m < 10; m++ {
			t := m * math.Pow(10, d)
			if lt := math.Log10(t); lt < dlo || lt > dhi {
				continue
			}
			color, label := "#f2f2f2", m == 1 || (dhi-dlo < 2 && (m == 2 || m == 5))
			if label {
				color = "#ddd"
				fmt.Fprintf(bw, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`, x(t), padT+ph+16, strconv.FormatFloat(t, 'f', -1, 64))
			}
			fmt.Fprintf(bw, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="%s"/>`+"\n", x(t), padT, x(t), padT+ph, color)
		}
	}
	for f := 0.0; f <= 1.0001; f += 0.25 {
		fmt.Fprintf(bw, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n",
			padL, y(f), padL+pw, y(f), padL-6, y(f)+4, f*100)
	}
	fmt.Fprintf(bw, `<text x="%g" y="%g" text-anchor="middle">finish time (s, log scale)</text>`+"\n", padL+pw/2, padT+ph+34)
	fmt.Fprintf(bw, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">receivers done</text>`+"\n", padT+ph/2)
	if len(reps) > 0 && reps[0].FloorS > 0 {
		f := reps[0].FloorS
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#000" stroke-dasharray="4 3"/><text x="%.1f" y="%g">floor %ss</text>`+"\n",
			x(f), padT, x(f), padT+ph, x(f)+4, padT+12, plainFloat(f))
	}
	for i, r := range reps {
		color := compareColors[i%len(compareColors)]
		dash := [...]string{"", "", "7 4", "2 3"}[i%4] // curves that coincide stay visible
		if n := len(r.FinishS); n > 0 {
			total := float64(n + r.Incomplete + r.Churned)
			fmt.Fprintf(bw, `<path fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" d="M%.1f %.1f`, color, dash, x(r.FinishS[0]), y(0))
			for k, t := range r.FinishS {
				fmt.Fprintf(bw, "H%.1fV%.1f", x(t), y(float64(k+1)/total))
			}
			fmt.Fprint(bw, "\"/>\n")
		}
		name := r.System
		if r.RackReport != nil && (r.RackReport.Policy == "local" || r.RackReport.Policy == "random") {
			name += " (" + r.RackReport.Policy + " peers)"
		}
		ly := padT + ph + 52 + float64(18*i)
		fmt.Fprintf(bw, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="%s" stroke-width="3" stroke-dasharray="%s"/><text x="%g" y="%.1f">%s: T_last %ss, efficiency %.3g, origin egress %s F</text>`+"\n",
			padL, ly-4, padL+24, ly-4, color, dash, padL+32, ly, html.EscapeString(name), plainFloat(r.TLastS), r.Efficiency, plainFloat(r.OriginEgressRatio))
	}
	fmt.Fprint(bw, "</svg>\n")
	return bw.Flush()
}

// plainFloat prints v with three significant digits, without exponents.
func plainFloat(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
