package sim

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
)

// SVG plot geometry, in pixels.
const (
	svgW, svgH                     = 720, 440
	padL, padR, padT, padB float64 = 64, 24, 40, 52
)

// WriteSVG draws the completion CDF of r (finish time against the
// fraction of receivers done) as a standalone SVG image, with the floor
// as a vertical line and the single-source time N·F/u_s marked (at the
// right edge with an arrow when it lies beyond the plotted range).
func (r *Report) WriteSVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	xmax := max(r.TLastS, r.FloorS) * 1.1
	if r.SingleSourceS <= xmax*1.5 {
		xmax = max(xmax, r.SingleSourceS*1.05)
	}
	if !(xmax > 0) {
		xmax = 1
	}
	pw, ph := svgW-padL-padR, svgH-padT-padB
	x := func(t float64) float64 { return padL + pw*math.Min(t, xmax)/xmax }
	y := func(f float64) float64 { return padT + ph*(1-f) }

	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(bw, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(bw, `<text x="%g" y="22" font-size="14">%s: %d receivers, %s, efficiency %.2f, origin egress %.2f F</text>`+"\n",
		padL, html.EscapeString(r.System), r.Peers, sizeLabel(r.SizeBytes), r.Efficiency, r.OriginEgressRatio)
	// Axes, ticks and grid.
	fmt.Fprintf(bw, `<path d="M%g %gV%gH%g" fill="none" stroke="black"/>`+"\n", padL, padT, padT+ph, padL+pw)
	step := niceStep(xmax / 6)
	for t := 0.0; t <= xmax+1e-12; t += step {
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#ddd"/><text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n",
			x(t), padT, x(t), padT+ph, x(t), padT+ph+16, trimFloat(t))
	}
	for f := 0.0; f <= 1.0001; f += 0.25 {
		fmt.Fprintf(bw, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/><text x="%g" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n",
			padL, y(f), padL+pw, y(f), padL-6, y(f)+4, f*100)
	}
	fmt.Fprintf(bw, `<text x="%g" y="%d" text-anchor="middle">finish time (s)</text>`+"\n", padL+pw/2, svgH-12)
	fmt.Fprintf(bw, `<text transform="translate(16 %g) rotate(-90)" text-anchor="middle">receivers done</text>`+"\n", padT+ph/2)
	// The CDF as a step line.
	n := len(r.FinishS)
	if n > 0 {
		fmt.Fprintf(bw, `<path fill="none" stroke="#1f77b4" stroke-width="2" d="M%.1f %.1f`, x(0), y(0))
		total := float64(n + r.Incomplete)
		for i, t := range r.FinishS {
			fmt.Fprintf(bw, "H%.1fV%.1f", x(t), y(float64(i+1)/total))
		}
		fmt.Fprint(bw, "\"/>\n")
	}
	// The floor and the single-source time.
	fmt.Fprintf(bw, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#d62728" stroke-width="1.5"/><text x="%.1f" y="%g" fill="#d62728">floor %ss</text>`+"\n",
		x(r.FloorS), padT, x(r.FloorS), padT+ph, x(r.FloorS)+4, padT+12, trimFloat(r.FloorS))
	if r.SingleSourceS <= xmax {
		fmt.Fprintf(bw, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#7f7f7f" stroke-dasharray="6 4"/><text x="%.1f" y="%g" fill="#7f7f7f" text-anchor="end">single source N·F/u_s %ss</text>`+"\n",
			x(r.SingleSourceS), padT, x(r.SingleSourceS), padT+ph, x(r.SingleSourceS)-4, padT+28, trimFloat(r.SingleSourceS))
	} else {
		fmt.Fprintf(bw, `<text x="%g" y="%g" fill="#7f7f7f" text-anchor="end">single source N·F/u_s = %ss →</text>`+"\n",
			padL+pw, padT+28, trimFloat(r.SingleSourceS))
	}
	fmt.Fprint(bw, "</svg>\n")
	return bw.Flush()
}

// niceStep rounds a raw tick step to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string { return fmt.Sprintf("%.3g", v) }

func sizeLabel(n int64) string {
	v, units := float64(n), []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.3g %s", v, units[i])
}
