package main

import "testing"

// TestMachineFloors: the disk floor is the copies over the probed rate, and
// the machine floor is the larger of it and the Kumar-Ross floor; without a
// probe the machine floor is the Kumar-Ross floor.
func TestMachineFloors(t *testing.T) {
	for _, c := range []struct {
		floor, bytes, rate, machine, disk float64
	}{
		{2.56, 1.28e9, 256e6, 5, 5},     // a slow disk sets the floor
		{2.56, 1.28e9, 1e9, 2.56, 1.28}, // a fast one does not
		{2.56, 1.28e9, 0, 2.56, 0},      // not probed
		{0.5, 0, 400e6, 0.5, 0},         // nothing to write
	} {
		m, d := machineFloors(c.floor, c.bytes, c.rate)
		if m != c.machine || d != c.disk {
			t.Errorf("machineFloors(%v, %v, %v) = %v, %v; want %v, %v", c.floor, c.bytes, c.rate, m, d, c.machine, c.disk)
		}
	}
}
