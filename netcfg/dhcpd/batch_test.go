package dhcpd

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// drain takes what is queued on the socket without waiting, up to one
// message per buffer, and returns at once when nothing is queued.
func TestDrainTakesQueuedMessages(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	out, err := net.Dial("udp4", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	bufs := [][]byte{make([]byte, 64), make([]byte, 64), make([]byte, 64)}

	// Nothing queued: the first message alone, at once.
	start := time.Now()
	if got := drain(conn, bufs, [][]byte{[]byte("first")}); len(got) != 1 {
		t.Errorf("empty queue: %d messages, want 1", len(got))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("drain of an empty queue waited %v", d)
	}

	for _, m := range []string{"a", "b", "c", "d"} {
		if _, err := out.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// Loopback delivers at once, but the last write may still be on its way.
	deadline := time.Now().Add(5 * time.Second)
	var got [][]byte
	n, _, err := conn.ReadFrom(bufs[0])
	if err != nil {
		t.Fatal(err)
	}
	for got = [][]byte{bufs[0][:n]}; len(got) < 3 && time.Now().Before(deadline); {
		got = drain(conn, bufs, got)
	}
	if len(got) != 3 || string(got[0]) != "a" || string(got[1]) != "b" || string(got[2]) != "c" {
		t.Errorf("batch %q, want a, b, c (one per buffer)", got)
	}
	// The message beyond the buffers stays queued for the next batch.
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := conn.ReadFrom(bufs[0]); err != nil || string(bufs[0][:n]) != "d" {
		t.Errorf("next read %q, %v; want d", bufs[0][:n], err)
	}
}

// Requests answered as one batch are all saved before the replies go
// out: each ACK of the batch is in the leases file.
func TestBatchSavedBeforeReplies(t *testing.T) {
	dir := t.TempDir()
	sc := testScope()
	s, _ := New(Options{Dir: dir, Now: func() time.Time { return t0 }})
	s.scopes[10] = &sc
	macs := []string{"02:aa:00:00:00:01", "02:aa:00:00:00:02"}
	var discovers []*dhcpv4.DHCPv4
	for _, m := range macs {
		discovers = append(discovers, msg(t, dhcpv4.MessageTypeDiscover, m))
	}
	offers := s.answer(10, discovers)
	if len(offers) != 2 || offers[0].reply.YourIPAddr.Equal(offers[1].reply.YourIPAddr) {
		t.Fatalf("offers %+v, want two different addresses", offers)
	}
	if _, err := os.Stat(filepath.Join(dir, LeasesFile)); !os.IsNotExist(err) {
		t.Errorf("offers were saved (%v): only ACKs change what a reboot keeps", err)
	}
	var requests []*dhcpv4.DHCPv4
	for i, m := range macs {
		requests = append(requests, msg(t, dhcpv4.MessageTypeRequest, m, requested(offers[i].reply.YourIPAddr.String()), serverID("10.0.10.1")))
	}
	acks := s.answer(10, requests)
	if len(acks) != 2 || acks[0].reply.MessageType() != dhcpv4.MessageTypeAck || acks[1].reply.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("answers %+v, want two ACKs", acks)
	}
	b, err := os.ReadFile(filepath.Join(dir, LeasesFile))
	if err != nil {
		t.Fatal(err)
	}
	var f leaseFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	saved := map[string]string{}
	for _, l := range f.Leases {
		saved[l.MAC] = l.Address.String()
	}
	for i, m := range macs {
		if want := acks[i].reply.YourIPAddr.String(); saved[m] != want {
			t.Errorf("%s: saved %q, acknowledged %s", m, saved[m], want)
		}
	}
}
