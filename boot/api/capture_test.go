package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// captureBox records two frames of v-web-0, the box's end of web's first
// NIC, and what it was asked.
type captureBox struct {
	*fakeBox
	asked []CaptureRequest
}

func (b *captureBox) CapturePort(port string) (string, error) {
	if port == "web.0" {
		return "v-web-0", nil
	}
	return "", ErrNoPort
}

func (b *captureBox) CaptureLink(ctx context.Context, link string, req CaptureRequest, w io.Writer) (CaptureResult, error) {
	b.asked = append(b.asked, req)
	pw := pcapgo.NewWriter(w)
	pw.WriteFileHeader(65536, layers.LinkTypeEthernet)
	for i := range 2 {
		f := bytes.Repeat([]byte{byte(i + 1)}, 60)
		pw.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: 60, Length: 60}, f)
	}
	return CaptureResult{Link: link, Packets: 2, Bytes: 24 + 2*76, Reason: "count"}, nil
}

// TestCapture: the pcap comes through the API to the client with the
// box's count in the trailer; an unknown port is 404, a bad limit 400,
// and the read-only login cannot capture.
func TestCapture(t *testing.T) {
	box := &captureBox{fakeBox: newFakeBox()}
	ts := newTLSTestServer(t, box)
	c := newTestClient(t, ClientOptions{Host: ts.URL, Token: testToken, Insecure: true})
	var buf bytes.Buffer
	res, err := c.Capture(context.Background(), "web.0", CaptureRequest{VLAN: 20, Count: 2, MaxBytes: 1 << 20}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		d, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil || len(d) != 60 {
			t.Fatalf("frame %d: %d bytes, %v", n, len(d), err)
		}
		n++
	}
	if n != 2 || res.Packets != 2 || res.Bytes != 176 || res.Reason != "count" {
		t.Errorf("%d frames read, result %+v", n, res)
	}
	if len(box.asked) != 1 || box.asked[0] != (CaptureRequest{VLAN: 20, Count: 2, MaxBytes: 1 << 20}) {
		t.Errorf("the box was asked %+v", box.asked)
	}

	var he *HTTPError
	if _, err := c.Capture(context.Background(), "nope.3", CaptureRequest{}, io.Discard); !errors.As(err, &he) || he.Code != http.StatusNotFound {
		t.Errorf("unknown port: %v", err)
	}
	if _, err := c.Capture(context.Background(), "web.0", CaptureRequest{VLAN: 5000}, io.Discard); !errors.As(err, &he) || he.Code != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "vlan=5000") {
		t.Errorf("VLAN 5000: %v", err)
	}
	if len(box.asked) != 1 {
		t.Errorf("refused requests reached the box: %+v", box.asked)
	}
	// Without the token: refused, and the positive control above shows
	// the same request with it goes through.
	anon := newTestClient(t, ClientOptions{Host: ts.URL, Token: "wrong-token-0123456789abcdef", Insecure: true})
	if _, err := anon.Capture(context.Background(), "web.0", CaptureRequest{}, io.Discard); !errors.As(err, &he) || he.Code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %v", err)
	}
}
