package api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// fakeBox is a Box whose state the tests set.
type fakeBox struct {
	mu        sync.Mutex
	state     BoxState
	workloads []Workload
	config    *ConfigInfo
	lines     []LogLine
	follow    chan LogLine
	power     []PowerAction
	panicky   bool
	applied   []string // names of the applied configs
	try       *TryState
	applyErr  error
	// webLog and webFollow are the container web's log.
	webLog    []LogLine
	webFollow chan LogLine
	actions   []string // "action name" of workload requests
	lease     *Lease
	usage     map[string]Usage
	// vncSock is the unix socket of ubuntu1's screen; empty means the
	// VM has no display.
	vncSock string
}

const testToken = "test-token-0123456789abcdef"

func newFakeBox() *fakeBox {
	return &fakeBox{
		state: BoxState{
			Hostname: "lab1", Phase: "ready", Uptime: Duration(90 * time.Second),
			Summary: json.RawMessage(`{"hostname":"lab1","init_ms":812,"ready_ms":3456,"rss_kib":12000,"modules":21}`),
		},
		workloads: []Workload{
			{Kind: "container", Name: "web", State: "running", PID: 321, Started: time.Now().Add(-time.Minute), Restarts: 1, Addresses: []string{"10.0.20.5/24"}},
			{Kind: "vm", Name: "ubuntu1", State: "starting", Details: map[string]string{"accel": "tcg", "vnc": "/v1/vms/ubuntu1/vnc"}},
		},
		config: &ConfigInfo{Source: "/etc/nucbox/config.yaml", SHA256: sha([]byte(runningConfig)), Text: runningConfig},
		lines: []LogLine{
			{Seq: 1, Time: time.Second, Text: "nucbox: starting as PID 1"},
			{Seq: 2, Time: 3 * time.Second, Text: "nucbox: ready {}"},
		},
		follow:    make(chan LogLine, 16),
		webLog:    []LogLine{{Seq: 1, Text: "[nucbox] started pid 321"}},
		webFollow: make(chan LogLine, 16),
	}
}

func (b *fakeBox) State() BoxState {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.panicky {
		panic("state exploded")
	}
	st := b.state
	st.Try = b.try
	return st
}

func (b *fakeBox) Workloads() []Workload {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Workload(nil), b.workloads...)
}

func (b *fakeBox) setWorkloadState(name, state string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.workloads {
		if b.workloads[i].Name == name {
			b.workloads[i].State = state
		}
	}
}

func (b *fakeBox) RunningConfig() (ConfigInfo, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.config == nil {
		return ConfigInfo{}, false
	}
	return *b.config, true
}

func (b *fakeBox) Log(ctx context.Context, name string, follow bool) ([]LogLine, <-chan LogLine, bool) {
	if name == "web" {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !follow {
			return append([]LogLine(nil), b.webLog...), nil, true
		}
		return append([]LogLine(nil), b.webLog...), b.webFollow, true
	}
	if name != BootLog {
		return nil, nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !follow {
		return append([]LogLine(nil), b.lines...), nil, true
	}
	return append([]LogLine(nil), b.lines...), b.follow, true
}

func (b *fakeBox) Power(a PowerAction, reason string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.power = append(b.power, a)
	return nil
}

func (b *fakeBox) powered() []PowerAction {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]PowerAction(nil), b.power...)
}

func fakeLinks() ([]Link, error) {
	return []Link{
		{Name: "lo", Index: 1, Type: "device", MTU: 65536, State: "unknown", Addresses: []string{"127.0.0.1/8"}},
		{Name: "eth0", Index: 2, Type: "device", MAC: "52:54:00:12:34:56", MTU: 1500, State: "up", Master: "br0",
			VLANs: []PortVLAN{{ID: 1, PVID: true, Untagged: true}, {ID: 10}}, Stats: LinkStats{RxBytes: 1000, TxBytes: 2000, RxPackets: 10, TxPackets: 20}},
		{Name: "br0", Index: 3, Type: "bridge", MAC: "52:54:00:12:34:56", MTU: 1500, State: "up", Addresses: []string{"10.0.2.15/24"},
			Stats: LinkStats{RxBytes: 4096, TxBytes: 8192, RxPackets: 40, TxPackets: 80}},
	}, nil
}

const runningConfig = `hostname: lab1
uplink:
  interface: auto
  bridge: br0
  ipv4: dhcp
  vlans: [20]
containers:
  - name: web
    image: docker.io/library/nginx:1.27
    nics: [{vlan: 20, ipv4: dhcp}]
api:
  listen: ":8443"
  token: test-token-0123456789abcdef
`

func (b *fakeBox) Apply(name string, data []byte, try time.Duration) (ApplyResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.try != nil {
		return ApplyResult{}, ErrBusy
	}
	if b.applyErr != nil {
		return ApplyResult{}, b.applyErr
	}
	b.applied = append(b.applied, name)
	res := ApplyResult{Previous: b.config.SHA256, Config: sha(data)}
	if try > 0 {
		b.try = &TryState{Config: res.Config, Previous: res.Previous, Deadline: time.Now().Add(try)}
		res.Try = b.try
	}
	b.config = &ConfigInfo{Source: "api:" + name, SHA256: res.Config, Text: string(data)}
	return res, nil
}

func (b *fakeBox) Confirm() (TryState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.try == nil {
		return TryState{}, ErrNoTry
	}
	t := *b.try
	b.try = nil
	return t, nil
}

func (b *fakeBox) appliedNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.applied...)
}

func (b *fakeBox) Control(ctx context.Context, name string, a WorkloadAction) (Workload, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.workloads {
		w := &b.workloads[i]
		if w.Name != name {
			continue
		}
		b.actions = append(b.actions, string(a)+" "+name)
		switch a {
		case WorkloadStop:
			w.State, w.PID, w.Held = "stopped", 0, true
		case WorkloadStart:
			w.State, w.Held = "running", false
		case WorkloadRestart:
			w.State, w.Held = "running", false
			w.Restarts++
		}
		return *w, nil
	}
	return Workload{}, ErrNoWorkload
}

func (b *fakeBox) actionLog() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.actions...)
}

// Console is an echo: what is typed comes back in capitals.
func (b *fakeBox) Console(name string) (io.ReadWriteCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range b.workloads {
		if w.Name != name || w.Kind != "vm" {
			continue
		}
		if w.State != "running" {
			return nil, ErrNotRunning
		}
		return newEchoConsole(), nil
	}
	return nil, ErrNoWorkload
}

// OpenVNC dials the fake RFB server of ubuntu1's screen.
func (b *fakeBox) OpenVNC(name string) (io.ReadWriteCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range b.workloads {
		if w.Name != name || w.Kind != "vm" {
			continue
		}
		switch {
		case b.vncSock == "":
			return nil, ErrNoDisplay
		case w.State != "running":
			return nil, ErrNotRunning
		}
		return net.Dial("unix", b.vncSock)
	}
	return nil, ErrNoWorkload
}

type echoConsole struct {
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

func newEchoConsole() *echoConsole {
	return &echoConsole{out: make(chan []byte, 64), closed: make(chan struct{})}
}

func (c *echoConsole) Read(p []byte) (int, error) {
	select {
	case b := <-c.out:
		return copy(p, b), nil
	case <-c.closed:
		return 0, io.EOF
	}
}

func (c *echoConsole) Write(p []byte) (int, error) {
	select {
	case c.out <- []byte(strings.ToUpper(string(p))):
		return len(p), nil
	case <-c.closed:
		return 0, io.ErrClosedPipe
	}
}

func (c *echoConsole) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (b *fakeBox) UplinkLease() *Lease {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lease
}

func (b *fakeBox) WorkloadUsage(w Workload) (Usage, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.usage[w.Name]
	return u, ok
}
