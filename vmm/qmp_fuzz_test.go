package vmm

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// streamConn is a QMP connection whose input is fixed bytes; what the
// monitor writes is dropped.
type streamConn struct {
	io.Reader
	net.Conn // nil: the methods below are all the monitor uses
}

func (c streamConn) Read(p []byte) (int, error)     { return c.Reader.Read(p) }
func (streamConn) Write(p []byte) (int, error)      { return len(p), nil }
func (streamConn) Close() error                     { return nil }
func (streamConn) SetDeadline(time.Time) error      { return nil }
func (streamConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzQMP feeds QEMU's side of a QMP connection, greeting, capabilities
// reply, events and replies, through the monitor's handshake and reader
// into the VM's event handling and a command's reply decoding: any
// input ends in an error or a result, never a panic, and a reply is
// handed only to the command whose id it carries.
func FuzzQMP(f *testing.F) {
	greeting := `{"QMP":{"version":{"qemu":{"major":7,"minor":2,"micro":0}},"capabilities":[]}}` + "\n" + `{"return":{},"id":0}` + "\n"
	f.Add([]byte(greeting + `{"event":"STOP","timestamp":{"seconds":1,"microseconds":2}}` + "\n" + `{"return":{"status":"paused"},"id":1}` + "\n"))
	f.Add([]byte(greeting + `{"event":"SHUTDOWN","data":{"guest":true,"reason":"guest-shutdown"}}{"id":1,"error":{"class":"GenericError","desc":"no"}}`))
	f.Add([]byte(greeting + `{"event":"GUEST_PANICKED","data":{"action":"pause","info":{"type":"hyper-v"}}}{"return":[1,2],"id":2}`))
	f.Add([]byte(`{"QMP":{}}{"event":"RESUME"}{"error":{"class":"CommandNotFound","desc":"x"}}`))
	f.Add([]byte(greeting + `{"id":1,"return":{"status":17}}`))
	g := NewGuest(vm1(nil), Options{Log: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, data []byte) {
		m := &monitor{conn: streamConn{Reader: bytes.NewReader(data)}, timeout: time.Second, onEvent: g.onEvent, done: make(chan struct{})}
		dec := json.NewDecoder(m.conn)
		if err := m.handshake(context.Background(), dec); err != nil {
			return
		}
		p := &pendingCmd{id: 1, reply: make(chan qmpMessage, 1)}
		m.pending = p
		if err := m.readMessages(dec); err == nil {
			t.Fatal("the reader ended without an error at the end of its input")
		}
		select {
		case msg := <-p.reply:
			if msg.ID == nil || *msg.ID != 1 {
				t.Fatalf("command 1 got the reply of id %v", msg.ID)
			}
			var st struct {
				Status string `json:"status"`
			}
			if msg.Error == nil {
				json.Unmarshal(msg.Return, &st)
			}
		default:
		}
		g.Status()
	})
}
