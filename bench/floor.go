package bench

// Floor is the Kumar-Ross lower bound on the time to deliver a file of f
// bytes from an origin with upload us to n receivers, each with upload u
// and download d (bytes per second):
//
//	T_min = max(F/u_s, F/d, N*F/(u_s + N*u))
//
// No peer-assisted scheme can finish sooner: the origin must send at least
// one copy, every receiver must take in a whole copy, and the swarm as a
// whole must upload N copies.
func Floor(f, us, d, u float64, n int) float64 {
	N := float64(n)
	return max(f/us, f/d, N*f/(us+N*u))
}

// SingleSource is the time one origin with upload us needs to send n full
// copies of f bytes: the HTTP comparator's ideal.
func SingleSource(f, us float64, n int) float64 {
	return float64(n) * f / us
}
