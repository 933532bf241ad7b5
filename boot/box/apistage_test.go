package box

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nucbox/nucbox/boot/api"
	"github.com/nucbox/nucbox/config"
	"github.com/nucbox/nucbox/config/plan"
)

const (
	tokenA = "first-token-0123456789abcdef"
	tokenB = "second-token-0123456789abcdef"
)

// statusCode asks addr for the status with token; 0 when nothing answers.
func statusCode(addr, token string) int {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
	req, _ := http.NewRequest("GET", "https://"+addr+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// freePort is a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestAPIStageAppliesLive: each apply of an api section reaches the
// running server at once: the token (old 401, new 200), the listen
// address (new up, old gone), a listen address that cannot be bound
// (the apply fails naming it, the old one keeps serving with the old
// settings), and api.listen removed.
func TestAPIStageAppliesLive(t *testing.T) {
	state := t.TempDir()
	b := New(Options{Logf: t.Logf, Stages: []Stage{}})
	first, second := freePort(t), freePort(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0") // held without SO_REUSEPORT
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	desired := func(listen, token string) *plan.Desired {
		return &plan.Desired{StateDir: state, Hostname: "lab1", API: plan.API{
			Socket: filepath.Join(t.TempDir(), "api.sock"), Listen: listen, Token: token,
			SessionLifetime: config.DefaultSessionLifetime, SessionIdle: config.DefaultSessionIdle}}
	}
	d := desired(first, tokenA)
	b.api.start(newTestAPIServer(b), wantOf(d))
	defer b.api.srv.Close()
	if got := statusCode(first, tokenA); got != 200 {
		t.Fatalf("at start: %d", got)
	}

	type probe struct {
		addr, token string
		want        int // 0: nothing answers
	}
	for _, step := range []struct {
		name    string
		d       *plan.Desired
		wantErr string
		probes  []probe
	}{
		{"same config again", desired(first, tokenA), "", []probe{{first, tokenA, 200}, {first, tokenB, 401}}},
		{"token rotated", desired(first, tokenB), "", []probe{{first, tokenA, 401}, {first, tokenB, 200}}},
		{"listen moved", desired(second, tokenB), "", []probe{{second, tokenB, 200}, {second, tokenA, 401}, {first, tokenB, 0}}},
		{"listen on a busy address, with a new token", desired(busy.Addr().String(), tokenA), busy.Addr().String(),
			[]probe{{second, tokenB, 200}, {second, tokenA, 401}}},
		{"listen removed", desired("", tokenB), "", []probe{{second, tokenB, 0}}},
		{"listen back", desired(first, tokenA), "", []probe{{first, tokenA, 200}, {first, tokenB, 401}}},
	} {
		err := b.api.Apply(context.Background(), step.d)
		switch {
		case step.wantErr == "" && err != nil:
			t.Fatalf("%s: %v", step.name, err)
		case step.wantErr != "" && (err == nil || !strings.Contains(err.Error(), step.wantErr) || !strings.Contains(err.Error(), "still listening on")):
			t.Fatalf("%s: error %v, want one naming %s and the address still served", step.name, err, step.wantErr)
		}
		for _, p := range step.probes {
			if got := statusCode(p.addr, p.token); got != p.want {
				t.Errorf("%s: %s with token %.6s: %d, want %d", step.name, p.addr, p.token, got, p.want)
			}
		}
	}
}

func newTestAPIServer(b *Box) *api.Server {
	return api.New(api.Options{Box: &apiBox{b: b}, Logf: b.o.Logf})
}

// TestLiveApplyOfTheAPISection goes through Box.Apply as nucbox apply
// does: a config with a new token takes effect when the apply returns,
// and one whose listen address cannot be bound fails the apply in the api
// stage, naming the address, and the box goes back to the previous
// config, still served where it was with its token.
func TestLiveApplyOfTheAPISection(t *testing.T) {
	state := t.TempDir()
	addr := freePort(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	rec := func(listen, token string) ConfigRecord {
		return NewConfigRecord("/etc/nucbox/config.yaml", []byte(fmt.Sprintf(
			"hostname: lab1\nstate-dir: %s\nuplink:\n  interface: auto\n  bridge: br0\n  ipv4: dhcp\napi:\n  listen: %q\n  token: %s\n",
			state, listen, token)))
	}
	b, log := newTestBox(t)
	b.sup.stages = []Stage{b.api}
	first := rec(addr, tokenA)
	cfg, err := config.Parse("config.yaml", first.Data)
	if err != nil {
		t.Fatal(err)
	}
	want := apiWant{API: plan.APIOf(cfg), stateDir: state, hostname: "lab1"}
	want.Socket = filepath.Join(t.TempDir(), "api.sock")
	b.api.start(newTestAPIServer(b), want)
	defer b.api.srv.Close()
	b.status = Status{Phase: "ready", Summary: &Summary{}}
	b.good = &first

	if _, err := b.Apply(context.Background(), rec(addr, tokenB), 0); err != nil {
		t.Fatal(err)
	}
	if a, bb := statusCode(addr, tokenA), statusCode(addr, tokenB); a != 401 || bb != 200 {
		t.Errorf("after the apply of a new token: old %d, new %d; want 401 and 200", a, bb)
	}
	_, err = b.Apply(context.Background(), rec(busy.Addr().String(), tokenA), 0)
	var se *StageError
	if !errors.As(err, &se) || se.Stage != plan.StageAPI || !strings.Contains(err.Error(), busy.Addr().String()) || !strings.Contains(err.Error(), "went back") {
		t.Fatalf("apply with a listen address in use: %v; want the api stage failing with the address, and the box back on the previous config", err)
	}
	if a, bb := statusCode(addr, tokenA), statusCode(addr, tokenB); a != 401 || bb != 200 {
		t.Errorf("after the failed apply: old token %d, running token %d; want 401 and 200\n%s", a, bb, log.String())
	}
}

// TestAPIStageKeepsServingWithoutItsStateDir: when the token and the
// certificate cannot be read (a state directory that fails), an apply
// that does not move the listener keeps the API as it is instead of
// failing (at boot, the whole box); one that moves it fails.
func TestAPIStageKeepsServingWithoutItsStateDir(t *testing.T) {
	b := New(Options{Logf: t.Logf, Stages: []Stage{}})
	addr := freePort(t)
	good := &plan.Desired{StateDir: t.TempDir(), Hostname: "lab1", API: plan.API{
		Socket: filepath.Join(t.TempDir(), "api.sock"), Listen: addr, Token: tokenA}}
	b.api.start(newTestAPIServer(b), wantOf(good))
	defer b.api.srv.Close()
	broken := *good
	broken.StateDir = "/proc/version/not-a-directory"
	broken.API.Token = tokenB
	if err := b.api.Apply(context.Background(), &broken); err != nil {
		t.Errorf("same listen, state dir failing: %v", err)
	}
	if got := statusCode(addr, tokenA); got != 200 {
		t.Errorf("after the apply without a state dir: %d with the running token, want 200", got)
	}
	broken.API.Listen = freePort(t)
	if err := b.api.Apply(context.Background(), &broken); err == nil {
		t.Error("a listener moved without a state dir: no error")
	}
}
