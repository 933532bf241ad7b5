package logship

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
)

// SDID is the structured data element of every message: 32473 is the
// private enterprise number RFC 5612 reserves for examples and private
// use.
const SDID = "nucbox@32473"

// Syslog severities a record can carry (RFC 5424 6.2.1).
const (
	SevError   uint8 = 3
	SevWarning uint8 = 4
	SevInfo    uint8 = 6
)

// facility is local0: the box's messages are not the kernel's or a
// system daemon's of the receiving host.
const facility = 16

// maxText bounds one message's text: RFC 5425 receivers take 2 KiB at
// least, and a runaway line must not fill the buffer alone.
const maxText = 2000

// Record is one line to ship.
type Record struct {
	Time     time.Time
	Severity uint8
	// Kind is box for PID 1's own log, container or vm for a workload's
	// output; Workload names the workload.
	Kind, Workload string
	Text           string
}

// encode writes r as an RFC 5424 message from host with sequence number
// seq.
func encode(r Record, host string, seq uint64) ([]byte, error) {
	m := &rfc5424.SyslogMessage{}
	m.SetVersion(1)
	m.SetPriority(facility*8 + r.Severity)
	// RFC 5424 allows six digits of a second at most.
	m.SetTimestamp(r.Time.UTC().Format("2006-01-02T15:04:05.999999Z07:00"))
	if host != "" {
		m.SetHostname(host)
	}
	app := "nucbox"
	if r.Workload != "" {
		app = r.Workload
	}
	m.SetAppname(app)
	m.SetMsgID(r.Kind)
	m.SetParameter(SDID, "host", host)
	m.SetParameter(SDID, "kind", r.Kind)
	if r.Workload != "" {
		m.SetParameter(SDID, "workload", r.Workload)
	}
	m.SetParameter(SDID, "seq", strconv.FormatUint(seq, 10))
	text := strings.ToValidUTF8(r.Text, "\uFFFD")
	if len(text) > maxText {
		text = text[:maxText] + "…"
	}
	m.SetMessage(text)
	s, err := m.String()
	if err != nil {
		return nil, fmt.Errorf("record %q: %w", r.Text, err)
	}
	return []byte(s), nil
}

// SeverityOf guesses a log line's severity from PID 1's wording.
func SeverityOf(text string) uint8 {
	switch {
	case strings.Contains(text, "error:") || strings.Contains(text, ": failed") || strings.Contains(text, "panic"):
		return SevError
	case strings.Contains(text, "warning:"):
		return SevWarning
	}
	return SevInfo
}
