package swarm

// Every test of the package checks the count of requests at near peers
// (locality.nearReqs) against the requests outstanding, where refillFar
// reads it.
func init() { checkNearReqs = true }
