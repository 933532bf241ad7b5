package reach

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Kinds of probe.
const (
	Ping    = "ping"    // Target an IPv4 address
	Connect = "connect" // Target ADDRESS:PORT, TCP
	Resolve = "resolve" // Target a name, asked of Server (ADDRESS or ADDRESS:PORT)
)

// Probe is one question.
type Probe struct {
	Kind    string
	Target  string
	Server  string
	Timeout time.Duration
}

// Result is the answer. A probe that ran and got no answer is OK false
// with Detail saying what happened; an error means it could not run.
type Result struct {
	OK      bool
	Detail  string
	Elapsed time.Duration
	// Answers are the addresses a resolve returned.
	Answers []string
}

// DefaultTimeout bounds a probe that names none.
const DefaultTimeout = 3 * time.Second

// MaxTimeout is the longest a probe may wait, so that an API request
// cannot hold a thread in a tenant's namespace for long.
const MaxTimeout = 30 * time.Second

// Check validates p before any namespace is entered.
func (p Probe) Check() error {
	if p.Timeout < 0 || p.Timeout > MaxTimeout {
		return fmt.Errorf("timeout %v: want at most %v", p.Timeout, MaxTimeout)
	}
	switch p.Kind {
	case Ping:
		if a, err := netip.ParseAddr(p.Target); err != nil || !a.Is4() {
			return fmt.Errorf("ping %q: want an IPv4 address", p.Target)
		}
	case Connect:
		if _, err := netip.ParseAddrPort(p.Target); err != nil {
			return fmt.Errorf("connect %q: want ADDRESS:PORT", p.Target)
		}
	case Resolve:
		if _, ok := dns.IsDomainName(p.Target); !ok || p.Target == "" {
			return fmt.Errorf("resolve %q: not a domain name", p.Target)
		}
		if _, err := serverAddr(p.Server); err != nil {
			return err
		}
	default:
		return fmt.Errorf("probe kind %q: want %s, %s or %s", p.Kind, Ping, Connect, Resolve)
	}
	return nil
}

func serverAddr(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	return "", fmt.Errorf("DNS server %q: want ADDRESS or ADDRESS:PORT", s)
}

// Run sends p from the network namespace at nsPath (such as
// /proc/PID/ns/net), or from the caller's when nsPath is empty.
func Run(ctx context.Context, nsPath string, p Probe) (Result, error) {
	if err := p.Check(); err != nil {
		return Result{}, err
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	if nsPath == "" {
		return run(ctx, p)
	}
	// The probe's sockets are made on this thread, inside the namespace;
	// once made they stay there wherever the goroutine runs.
	runtime.LockOSThread()
	back, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return Result{}, fmt.Errorf("the box's own network namespace: %w", err)
	}
	defer back.Close()
	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		runtime.UnlockOSThread()
		return Result{}, fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		// Still in the box's namespace: the thread is clean.
		runtime.UnlockOSThread()
		return Result{}, fmt.Errorf("entering %s: %w", nsPath, err)
	}
	res, perr := run(ctx, p)
	if err := netns.Set(back); err != nil {
		// The thread stays locked and ends with this goroutine.
		return Result{}, fmt.Errorf("leaving %s: %w", nsPath, err)
	}
	runtime.UnlockOSThread()
	return res, perr
}

func run(ctx context.Context, p Probe) (Result, error) {
	start := time.Now()
	var res Result
	var err error
	switch p.Kind {
	case Ping:
		res, err = ping(ctx, p.Target)
	case Connect:
		res, err = connect(ctx, p.Target)
	case Resolve:
		res, err = resolve(ctx, p.Server, p.Target)
	}
	res.Elapsed = time.Since(start)
	return res, err
}

func connect(ctx context.Context, target string) (Result, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp4", target)
	if err != nil {
		return Result{Detail: quiet(err)}, nil
	}
	c.Close()
	return Result{OK: true, Detail: "connected"}, nil
}

// ping sends echo requests every 200 ms until one is answered or the time
// is up: the first may go while a neighbour entry is still resolving.
func ping(ctx context.Context, target string) (Result, error) {
	conn, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return Result{}, fmt.Errorf("ICMP socket: %w", err)
	}
	defer conn.Close()
	dst := &net.IPAddr{IP: net.ParseIP(target)}
	id := os.Getpid() & 0xffff
	buf := make([]byte, 1500)
	for seq := 1; ; seq++ {
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("nucbox reach")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return Result{}, err
		}
		if _, err := conn.WriteTo(b, dst); err != nil {
			return Result{Detail: quiet(err)}, nil
		}
		round := time.Now().Add(200 * time.Millisecond)
		if dl, ok := ctx.Deadline(); ok && dl.Before(round) {
			round = dl
		}
		_ = conn.SetReadDeadline(round)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				break
			}
			m, err := icmp.ParseMessage(1, buf[:n])
			if err != nil || from.String() != target {
				continue
			}
			switch m.Type {
			case ipv4.ICMPTypeEchoReply:
				if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id {
					return Result{OK: true, Detail: "echo reply"}, nil
				}
			case ipv4.ICMPTypeDestinationUnreachable:
				return Result{Detail: "destination unreachable"}, nil
			}
		}
		if ctx.Err() != nil {
			return Result{Detail: "no reply"}, nil
		}
	}
}

func resolve(ctx context.Context, server, name string) (Result, error) {
	addr, _ := serverAddr(server)
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.RecursionDesired = true
	c := &dns.Client{Net: "udp"}
	in, _, err := c.ExchangeContext(ctx, m, addr)
	if err != nil {
		return Result{Detail: quiet(err)}, nil
	}
	if in.Rcode != dns.RcodeSuccess {
		return Result{Detail: "answer " + dns.RcodeToString[in.Rcode]}, nil
	}
	var out []string
	for _, rr := range in.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	if len(out) == 0 {
		return Result{Detail: "no address in the answer"}, nil
	}
	return Result{OK: true, Detail: "answered", Answers: out}, nil
}

// quiet shortens a network error to what the user needs: "connection
// refused", "i/o timeout", "no route to host".
func quiet(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer in time"
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}
