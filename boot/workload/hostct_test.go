package workload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"golang.org/x/sys/unix"

	"github.com/nucbox/nucbox/containers"
	"github.com/nucbox/nucbox/containers/imagetest"
	"github.com/nucbox/nucbox/vswitch"
	"github.com/nucbox/nucbox/vswitch/netnstest"

	"github.com/nucbox/nucbox/test/ci"
)

// Host tier: the pool driving real containers through libcontainer.

// requireRoot skips host-tier tests unless root; under CI=true it fails.
func requireRoot(t testing.TB) {
	t.Helper()
	ci.Require(t, os.Geteuid() == 0, "host-tier container tests need root")
}

// ctPool is a pool running ct, from a busybox OCI layout, on a runtime
// with nw as its network; the image's command says where it came from.
func ctPool(t *testing.T, nw *containers.Network, ct containers.Spec) *Pool {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "image"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(imagetest.Busybox(t, []string{"sh", "-c", "echo hello from the image"}, []string{"PATH=/bin"})); err != nil {
		t.Fatal(err)
	}
	log, _ := newTestLog(t)
	r, err := containers.New(containers.Options{
		StateDir: filepath.Join(dir, "state"),
		RunDir:   filepath.Join(dir, "run"),
		Box:      "nuc-test",
		Logger:   log.With("test", t.Name()),
		Network:  nw,
	})
	if err != nil {
		t.Fatal(err)
	}
	ct.Image = containers.Source{Transport: containers.TransportOCILayout, Path: filepath.Join(dir, "image")}
	p, _ := newTestPool(t, Options{Kind: "container", Backoff: Backoff{Min: 100 * time.Millisecond, Max: time.Second, Stable: time.Minute}})
	p.Apply(context.Background(), []Want{{Name: ct.Name, Key: ct, Policy: Policy(ct.Restart), New: func() (Workload, error) {
		s, err := r.Supervise(ct)
		if err != nil {
			return nil, err
		}
		return Container(s), nil
	}}})
	return p
}

// ctName carries the test's pid so that parallel runs do not clash.
func ctName(base string) string { return fmt.Sprintf("%s-%d", base, os.Getpid()%100000) }

func waitStatus(t *testing.T, p *Pool, name, what string, ok func(Status) bool) Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := status(t, p, name)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := p.Logs(name)
			t.Fatalf("%s: status %+v\nlog:\n%s", what, st, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func logCount(p *Pool, name, s string) int {
	b, _ := p.Logs(name)
	return strings.Count(string(b), s)
}

func TestRestartAfterKill9(t *testing.T) {
	name := ctName("restart")
	p := ctPool(t, nil, containers.Spec{Name: name, Restart: string(OnFailure),
		Command: []string{"sh", "-c", "echo up; exec sleep 1000"}, StopTimeout: time.Second})
	first := waitStatus(t, p, name, "first start", func(st Status) bool { return st.State == StateRunning })
	waitStatus(t, p, name, "output", func(Status) bool { return logCount(p, name, "up\n") == 1 })
	if err := unix.Kill(first.PID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := waitStatus(t, p, name, "restart", func(st Status) bool {
		return st.State == StateRunning && st.Restarts == 1 && st.PID != first.PID
	})
	if !strings.Contains(second.LastExit, "SIGKILL") {
		t.Errorf("last exit %q, want killed by SIGKILL", second.LastExit)
	}
	waitStatus(t, p, name, "output of the second run", func(Status) bool { return logCount(p, name, "up\n") == 2 })
	if st, err := p.Control(context.Background(), name, Stop); err != nil || st.State != StateStopped {
		t.Errorf("after Stop: %+v, %v", st, err)
	}
}

// testBox is a namespace standing in for the box's: a flat bridge br0
// that container NICs join.
func testBox(t *testing.T) *containers.Network {
	t.Helper()
	requireRoot(t)
	box := netnstest.New(t, "plbox")
	sw, err := vswitch.Open(box.Namespace(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	br := vswitch.Bridge{Name: "br0"}
	if _, err := sw.EnsureBridge(context.Background(), br); err != nil {
		t.Fatal(err)
	}
	if err := sw.BringUp("br0"); err != nil {
		t.Fatal(err)
	}
	return &containers.Network{Switch: sw, Host: box.Namespace(), Bridge: br, LeaseTimeout: 15 * time.Second,
		Logger: slog.New(slog.DiscardHandler)}
}

func TestRestartRewiresNIC(t *testing.T) {
	name := ctName("rewire")
	ct := containers.Spec{Name: name, Restart: string(Always), StopTimeout: 200 * time.Millisecond,
		Command: []string{"sh", "-c", "ip -o addr show eth0; exec sleep 1000"}}
	ct.NICs = []containers.NIC{testNIC(ct.Name, 0, containers.IPv4{Address: netip.MustParsePrefix("10.79.0.2/24")})}
	p := ctPool(t, testBox(t), ct)
	first := waitStatus(t, p, name, "start", func(st Status) bool { return st.State == StateRunning })
	waitStatus(t, p, name, "address", func(Status) bool { return logCount(p, name, "10.79.0.2/24") == 1 })
	if err := unix.Kill(first.PID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p, name, "restart", func(st Status) bool { return st.State == StateRunning && st.Restarts == 1 })
	waitStatus(t, p, name, "address after restart", func(Status) bool { return logCount(p, name, "10.79.0.2/24") == 2 })
}

// testNIC is NIC i of container ct as config/plan compiles it: a veth
// port with the host end, the peer and the MAC derived from the names.
func testNIC(ct string, i int, ipv4 containers.IPv4) containers.NIC {
	sum := sha256.Sum256([]byte(ct))
	id := hex.EncodeToString(sum[:3])
	return containers.NIC{
		Port: vswitch.Port{Name: fmt.Sprintf("v-%s-%d", id, i), Kind: vswitch.KindVeth, Label: fmt.Sprintf("ct/%s/%d", ct, i),
			MAC: net.HardwareAddr{0x02, sum[0], sum[1], sum[2], sum[3], byte(i)}, Peer: fmt.Sprintf("p-%s-%d", id, i), VLAN: 1},
		Name: fmt.Sprintf("eth%d", i),
		IPv4: ipv4,
	}
}
