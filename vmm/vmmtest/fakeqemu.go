package vmmtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// A test binary doubles as a fake qemu-system-x86_64 when
// NUCBOX_FAKE_QEMU names a behaviour (see RunFakeQEMU). It speaks enough
// QMP for vmm (greeting, capabilities, query-status, cont,
// system_powerdown, quit) and prints a console line, so that restart
// policies, backoff and every shutdown path are tested in milliseconds
// and without QEMU installed.
//
// Behaviours:
//
//	obey        powers off (exit 0) on system_powerdown
//	ignore      ignores system_powerdown; exits on quit
//	deaf        stops answering QMP once running: only SIGKILL ends it
//	crash       exits 1 shortly after cont
//	poweroff    exits 0 shortly after cont (the guest shut itself down)
//	fail        prints a QEMU-style error and exits 1 at once
//	silent      accepts QMP connections but never greets
//	late-resume as obey, but RESUME comes 100 ms after cont's reply
//	            instead of before it (QEMU 7.2 sends it first)
//	proxy       leaves QMP to a child process (mode obey) that it waits
//	            for: the socket is not served by the QEMU started
//
// Every query-status is noted on stderr ("fake qemu: query-status"),
// which vmm keeps in the QEMU log, so that tests can count them.
const FakeQEMUEnv = "NUCBOX_FAKE_QEMU"

// RunFakeQEMU makes this process the fake QEMU when FakeQEMUEnv names a
// behaviour: it runs it and exits. Call it first in TestMain.
func RunFakeQEMU() {
	if mode := os.Getenv(FakeQEMUEnv); mode != "" {
		os.Exit(FakeQEMU(mode, os.Args[1:]))
	}
}

// FakeQEMU runs the fake QEMU in mode with QEMU's arguments and returns
// its exit status.
func FakeQEMU(mode string, args []string) int {
	var sock string
	paused := false
	for i, a := range args {
		if a == "-qmp" && i+1 < len(args) {
			v := strings.TrimPrefix(args[i+1], "unix:")
			v = strings.ReplaceAll(v, ",,", "\x00")
			v, _, _ = strings.Cut(v, ",")
			sock = strings.ReplaceAll(v, "\x00", ",")
		}
		if a == "-S" {
			paused = true
		}
	}
	switch mode {
	case "proxy":
		return proxy(args)
	case "child":
		// A child of proxy ends with its parent, as vmm kills only the
		// process it started.
		go func() {
			ppid := os.Getppid()
			for os.Getppid() == ppid {
				time.Sleep(10 * time.Millisecond)
			}
			os.Exit(0)
		}()
		mode = "obey"
	}
	if mode == "fail" {
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: -drive file=x: Could not open 'x': No such file or directory")
		return 1
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake qemu:", err)
		return 1
	}
	q := &fakeMachine{mode: mode, running: !paused, exit: make(chan int, 1)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			q.serve(c)
		}
	}()
	code := <-q.exit
	ln.Close()
	os.Remove(sock)
	return code
}

// proxy runs the fake QEMU's child with the same arguments and returns
// its exit status.
func proxy(args []string) int {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), FakeQEMUEnv+"=child")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "fake qemu:", err)
		return 1
	}
	return 0
}

type fakeMachine struct {
	mode    string
	mu      sync.Mutex
	running bool
	exit    chan int
}

func (q *fakeMachine) end(code int) {
	select {
	case q.exit <- code:
	default:
	}
}

func (q *fakeMachine) serve(c net.Conn) {
	defer c.Close()
	if q.mode == "silent" {
		time.Sleep(time.Hour)
	}
	var wmu sync.Mutex
	send := func(v any) {
		b, _ := json.Marshal(v)
		wmu.Lock()
		c.Write(append(b, '\r', '\n'))
		wmu.Unlock()
	}
	event := func(name string, data map[string]any) {
		now := time.Now()
		send(map[string]any{"event": name, "data": data,
			"timestamp": map[string]int64{"seconds": now.Unix(), "microseconds": int64(now.Nanosecond() / 1000)}})
	}
	send(map[string]any{"QMP": map[string]any{
		"version":      map[string]any{"qemu": map[string]int{"major": 7, "minor": 2, "micro": 99}, "package": "fake"},
		"capabilities": []string{"oob"},
	}})
	// A decoder, not a line scanner: like QEMU, commands are a JSON
	// stream, and go-qemu sends them without a newline.
	dec := json.NewDecoder(c)
	for {
		var cmd struct {
			Execute string `json:"execute"`
			ID      any    `json:"id"`
		}
		if err := dec.Decode(&cmd); err != nil {
			return
		}
		ok := map[string]any{"return": map[string]any{}, "id": cmd.ID}
		switch cmd.Execute {
		case "qmp_capabilities":
			send(ok)
		case "query-status":
			fmt.Fprintln(os.Stderr, "fake qemu: query-status")
			q.mu.Lock()
			st := "prelaunch"
			if q.running {
				st = "running"
			}
			q.mu.Unlock()
			send(map[string]any{"return": map[string]any{"status": st, "running": st == "running"}, "id": cmd.ID})
		case "cont":
			q.mu.Lock()
			q.running = true
			q.mu.Unlock()
			if q.mode == "late-resume" {
				send(ok)
				// Late enough for the reply to be read alone.
				go func() { time.Sleep(100 * time.Millisecond); event("RESUME", nil) }()
			} else {
				event("RESUME", nil)
				send(ok)
			}
			fmt.Println("fake guest: console up")
			if q.mode == "deaf" {
				time.Sleep(time.Hour)
			}
			switch q.mode {
			case "crash":
				go func() { time.Sleep(20 * time.Millisecond); q.end(1) }()
			case "poweroff":
				go func() { time.Sleep(20 * time.Millisecond); q.end(0) }()
			}
		case "system_powerdown":
			send(ok)
			event("POWERDOWN", nil)
			if q.mode == "obey" || q.mode == "late-resume" {
				fmt.Println("fake guest: powering off")
				event("SHUTDOWN", map[string]any{"guest": true, "reason": "guest-shutdown"})
				go func() { time.Sleep(10 * time.Millisecond); q.end(0) }()
			}
		case "quit":
			send(ok)
			event("SHUTDOWN", map[string]any{"guest": false, "reason": "host-qmp-quit"})
			q.end(0)
			return
		default:
			send(map[string]any{"error": map[string]string{"class": "CommandNotFound", "desc": "The command " + cmd.Execute + " has not been found"}, "id": cmd.ID})
		}
	}
}
