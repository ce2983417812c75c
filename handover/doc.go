// Package handover is the checked hand-over of actions from a pure state
// machine to the runtime that performs them, in the manner of etcd raft's
// RawNode Ready and Advance. The machine queues actions while events step
// it; the runtime takes one batch with Ready, performs every action of it
// (or starts it: a dial, a hash), and acknowledges it with Advance; what
// the actions produced comes back only as later events. Stepping the
// machine or calling Ready while a batch is out, or Advance without one,
// breaks the contract and panics with an error wrapping ErrContract.
//
// Package swarm (the scheduling core) and package peers (the peer
// manager) hand their actions over through a Queue; the client's loop and
// the simulator drive both the same way. The package is a small generic
// value: no goroutines, no I/O, not safe for concurrent use.
package handover
