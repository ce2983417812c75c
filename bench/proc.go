package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// errExited means a process ended before printing the line awaited.
var errExited = errors.New("process exited")

// proc is one child process whose output lines are watched for marks:
// prefixes such as "listening on " whose first occurrence (and when it was
// read) the harness waits for.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process is reaped

	mu    sync.Mutex
	marks map[string]*mark
	tail  []string // last lines of output, for error messages

	state   *os.ProcessState // set before exited closes
	waitErr error
}

// mark records the first line starting with a prefix.
type mark struct {
	seen chan struct{}
	line string
	at   time.Time
}

const tailLines = 15

// startProc starts argv with stdout and stderr merged and watched for
// the given prefixes; env (NAME=VALUE) is added to the harness's own
// environment.
func startProc(name string, env, argv []string, prefixes ...string) (*proc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	// Kill the child if the harness dies, so no host outlives the bench.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{}), marks: map[string]*mark{}}
	for _, pre := range prefixes {
		p.marks[pre] = &mark{seen: make(chan struct{})}
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	w.Close()
	go p.watch(r)
	return p, nil
}

// watch reads the output until the process closes it, then reaps it.
func (p *proc) watch(r *os.File) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, now := sc.Text(), time.Now()
		p.mu.Lock()
		for pre, m := range p.marks {
			if m.at.IsZero() && strings.HasPrefix(line, pre) {
				m.line, m.at = line, now
				close(m.seen)
			}
		}
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
	}
	r.Close()
	err := p.cmd.Wait()
	p.mu.Lock()
	p.state, p.waitErr = p.cmd.ProcessState, err
	p.mu.Unlock()
	close(p.exited)
}

// wait blocks until a line starting with prefix (one given to startProc)
// was read, and returns it and when it was read.
func (p *proc) wait(ctx context.Context, prefix string) (string, time.Time, error) {
	m := p.marks[prefix]
	select {
	case <-m.seen:
		return m.line, m.at, nil
	case <-p.exited:
		select {
		case <-m.seen:
			return m.line, m.at, nil
		default:
		}
		return "", time.Time{}, fmt.Errorf("%s: %w before %q (%v); last output:\n%s", p.name, errExited, prefix, p.waitErr, p.lastOutput())
	case <-ctx.Done():
		return "", time.Time{}, fmt.Errorf("%s: waiting for %q: %w; last output:\n%s", p.name, prefix, ctx.Err(), p.lastOutput())
	}
}

// lastOutput returns the last lines the process printed.
func (p *proc) lastOutput() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "  " + strings.Join(p.tail, "\n  ")
}

// stop asks the process to end with SIGTERM, kills it after grace, and
// returns its final state.
func (p *proc) stop(grace time.Duration) *os.ProcessState {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.exited:
		case <-t.C:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	return p.state
}

// usage is the resources a finished process used.
type usage struct {
	cpu     time.Duration // user + system
	peakRSS int64         // bytes
	// vcsw and ivcsw count the process's context switches: voluntary (a
	// thread blocked: waiting for the network, a timer, a lock) and
	// involuntary (preempted by the kernel, which the machine's load sets).
	vcsw, ivcsw int64
}

// usageOf reads the rusage of a reaped process.
func usageOf(st *os.ProcessState) usage {
	if st == nil {
		return usage{}
	}
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return usage{cpu: st.UserTime() + st.SystemTime()}
	}
	return usage{
		cpu:     st.UserTime() + st.SystemTime(),
		peakRSS: ru.Maxrss * 1024, // Linux reports kilobytes
		vcsw:    int64(ru.Nvcsw),
		ivcsw:   int64(ru.Nivcsw),
	}
}
