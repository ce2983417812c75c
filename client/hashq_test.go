package client

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestHashQueueWorkers: the queue asks for a new worker only while fewer
// than its maximum run and none is idle, hands jobs out in order, wakes an
// idle worker for a new job instead of asking for another, and gives back
// what is left when the torrent stops.
func TestHashQueueWorkers(t *testing.T) {
	q := newHashQueue(2)
	var starts int
	for i := range 5 {
		if q.push(hashJob{piece: i}) {
			starts++
		}
	}
	if starts != 2 {
		t.Fatalf("%d workers asked for 5 jobs, want 2 (the maximum)", starts)
	}
	done := make(chan struct{})
	for i := range 5 {
		j, ok := q.pop(done)
		if !ok || j.piece != i {
			t.Fatalf("pop %d = piece %d, %v", i, j.piece, ok)
		}
	}

	// An idle worker is woken for the next job; no new one is asked for.
	var wg sync.WaitGroup
	got := make(chan int, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		j, ok := q.pop(done)
		if ok {
			got <- j.piece
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		q.mu.Lock()
		idle := q.idle
		q.mu.Unlock()
		if idle == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker never waited")
		}
		time.Sleep(time.Millisecond)
	}
	if q.push(hashJob{piece: 7}) {
		t.Fatal("a new worker asked for while one was idle")
	}
	select {
	case p := <-got:
		if p != 7 {
			t.Fatalf("idle worker got piece %d, want 7", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("idle worker not woken")
	}
	wg.Wait()

	// Stopping: a waiting worker returns, and the rest is drained.
	q.push(hashJob{piece: 8})
	q.push(hashJob{piece: 9})
	close(done)
	if left := q.drain(); len(left) != 2 || left[0].piece != 8 || left[1].piece != 9 {
		t.Fatalf("drained %v, want pieces 8 and 9", left)
	}
	if _, ok := q.pop(done); ok {
		t.Fatal("pop after stop and drain returned a job")
	}
}

// TestHashQueueNeverEmpty: a queue that always holds a few jobs (the
// hashing behind the readers) keeps its array at the size of what it holds
// and hands the jobs out in order; it used to grow its array, an
// allocation and a copy each time, for as long as it did not empty.
func TestHashQueueNeverEmpty(t *testing.T) {
	q := newHashQueue(1)
	done := make(chan struct{})
	next := 0 // the piece the next pop must return
	for i := range 1000 {
		q.push(hashJob{piece: i})
		if i < 4 {
			continue // four jobs wait from now on
		}
		j, ok := q.pop(done)
		if !ok || j.piece != next {
			t.Fatalf("pop = piece %d, %v; want %d", j.piece, ok, next)
		}
		next++
	}
	if c := cap(q.jobs); c > 8 {
		t.Errorf("a queue of at most 5 jobs grew to an array of %d", c)
	}
}

// TestVerifiedEventsKept checks that the events telling the loop of a
// verified piece are recycled across garbage collections, which emptied
// the sync.Pool that held them. Not parallel: AllocsPerRun counts the whole
// process's allocations.
func TestVerifiedEventsKept(t *testing.T) {
	allocs := testing.AllocsPerRun(50, func() {
		e := newVerifiedEvent(1, true, nil)
		runtime.GC()
		e.release()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per verified piece across a collection, want 0", allocs)
	}
}
