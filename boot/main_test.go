package boot

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nucbox/nucbox/boot/box"
)

// TestMainRefusesOutsidePID1 runs Main in a child process, which is not
// PID 1: it must refuse clearly and exit instead of touching the host.
func TestMainRefusesOutsidePID1(t *testing.T) {
	if os.Getenv("NUCBOX_TEST_MAIN") != "" {
		Main("test")
		return
	}
	for _, env := range [][]string{
		{"NUCBOX_TEST_MAIN=1"},
		{"NUCBOX_TEST_MAIN=1", "_LIBCONTAINER_INITPIPE=3"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainRefusesOutsidePID1$")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 {
			t.Fatalf("%v: exit %v, output %s", env, err, out)
		}
		if !strings.Contains(string(out), "nucbox: ") || !strings.Contains(string(out), "PID 1") && !strings.Contains(string(out), "container init") {
			t.Errorf("%v: unclear refusal: %s", env, out)
		}
	}
}

// The ready line is the console contract the end-to-end tests parse.
func TestReadyLine(t *testing.T) {
	buf := withConsole(t)
	rec := box.NewConfigRecord("/etc/nucbox/config.yaml", []byte("hostname: nuc1\n"))
	sum := box.Summary{Hostname: "nuc1", Config: rec.SHA256, ConfigSource: rec.Source,
		InitMS: 2591, ReadyMS: 3979, RSSKiB: 13608, Modules: 30, Root: "tmpfs"}
	// The box prints it, through PID 1's console.
	b := box.New(box.Options{Logf: Logf, Stages: []box.Stage{}})
	if err := b.Ready(rec, sum); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("ready is not one line: %q", out)
	}
	m := regexp.MustCompile(`^\[ *\d+\.\d{6}\] nucbox: ready (\{.*\})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("ready line %q", out)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"hostname", "config", "init_ms", "ready_ms", "rss_kib", "modules", "vms", "containers"} {
		if _, ok := got[k]; !ok {
			t.Errorf("ready JSON lacks %q: %s", k, m[1])
		}
	}
	// sha256sum of the config bytes, as a user would check it.
	if got["config"] != "490b487fe5900ed584e7433263c86a43df1bc73178b7b04e7fae87d5fcb64bfb" {
		t.Errorf("config hash %v", got["config"])
	}
	if got["hostname"] != "nuc1" || got["init_ms"] != 2591.0 || got["vms"] != 0.0 {
		t.Errorf("values: %v", got)
	}
}

func TestFailureText(t *testing.T) {
	got := failureText("config", "/etc/nucbox/config.yaml: 2 errors", []string{
		"/etc/nucbox/config.yaml:1:11: hostname: invalid host name",
		"/etc/nucbox/config.yaml:5:1: bogus: unknown field",
	})
	want := "failed: config: /etc/nucbox/config.yaml: 2 errors\n" +
		"    /etc/nucbox/config.yaml:1:11: hostname: invalid host name\n" +
		"    /etc/nucbox/config.yaml:5:1: bogus: unknown field"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := failureText("modules", "foo: not in the image", nil); got != "failed: modules: foo: not in the image" {
		t.Errorf("single: %q", got)
	}
}

func TestErrorLines(t *testing.T) {
	joined := errors.Join(errors.New("a: x"), errors.Join(errors.New("b: y"), errors.New("c\nd")))
	if got := errorLines(joined); !slices.Equal(got, []string{"a: x", "b: y", "c", "d"}) {
		t.Errorf("joined: %q", got)
	}
	multi := errors.New("f:1:1: a: bad\n\nf:2:1: b: worse\n")
	if got := errorLines(multi); !slices.Equal(got, []string{"f:1:1: a: bad", "f:2:1: b: worse"}) {
		t.Errorf("multi-line: %q", got)
	}
}
