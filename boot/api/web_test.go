package api

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nucbox/nucbox/test/ci"
)

// chromiumPath finds Debian's chromium; without it the test is skipped,
// except in CI, where a skip would hide a missing dependency.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	ci.Missing(t, "chromium is not installed (apt-get install chromium, part of make deps): the web page test needs it")
	return ""
}

// artifactsDir is $NUCBOX_ARTIFACTS/TestName when set (relative to the
// repository root), else a temporary directory.
func artifactsDir(t *testing.T) string {
	base := os.Getenv("NUCBOX_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(base) {
		base = filepath.Join("..", "..", base)
	}
	dir := filepath.Join(base, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newBrowser starts a headless Chromium for the test; it ends with it.
func newBrowser(t *testing.T, chromium string) context.Context {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancel)
	return ctx
}

// openPage starts Chromium on url and returns its context and a step
// runner: each step gets 20 s, and a failed one reports what the
// JavaScript expression diag reads from the page ("" for nothing). The
// first action starts the browser, so it runs without a timeout, which
// would end the browser with it.
func openPage(t *testing.T, chromium, url, diag string) (context.Context, func(string, chromedp.Action[chromedp.Void])) {
	t.Helper()
	ctx := newBrowser(t, chromium)
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("starting chromium and loading the page: %v", err)
	}
	t.Logf("chromium up and page loaded in %v", time.Since(start).Round(time.Millisecond))
	step := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, c := context.WithTimeout(ctx, 20*time.Second)
		defer c()
		if err := chromedp.Do(tctx, a); err == nil {
			return
		} else if diag == "" {
			t.Fatalf("%s: %v", what, err)
		} else {
			st, _ := chromedp.Run(ctx, chromedp.Evaluate[string](diag))
			t.Fatalf("%s: %v (%s)", what, err, st)
		}
	}
	return ctx, step
}

// TestWebPage drives the status page in headless Chromium: log in with
// the token, see the workloads of the test status and the leases the
// box's DHCP server gave, see a state change and a new log line arrive
// without a reload.
func TestWebPage(t *testing.T) {
	chromium := chromiumPath(t)
	box := newFakeBox()
	served := servedBox{fakeBox: box, leases: []ServedLease{
		{VLAN: 10, MAC: "02:00:00:00:00:05", Address: "10.0.10.5", Name: "vm1", Fixed: true, Active: true, Expires: time.Now().Add(time.Hour)},
		{VLAN: 10, MAC: "02:aa:00:00:00:01", Address: "10.0.10.100", Hostname: "laptop", Active: true, Expires: time.Now().Add(time.Hour)},
		{VLAN: 20, MAC: "02:aa:00:00:00:02", Address: "10.0.20.100", Expires: time.Now().Add(-time.Minute)},
	}}
	s := New(Options{Box: served, Token: testToken, Links: fakeLinks, Logf: t.Logf})
	ts := httptest.NewServer(s)
	// Closed after the browser (cleanups run last first), which holds
	// the followed log open.
	t.Cleanup(ts.Close)

	ctx, step := openPage(t, chromium, ts.URL+"/", "")

	step("login form", chromedp.WaitVisible(chromedp.ID("token")))
	step("log in", chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.Submit(chromedp.ID("token")),
	))
	step("workloads listed", chromedp.WaitVisible(chromedp.CSS(`#workloads tbody tr[data-name="web"]`)))

	tctx, c := context.WithTimeout(ctx, 20*time.Second)
	defer c()
	text, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#workloads tbody")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"web", "container", "running", "ubuntu1", "vm", "starting", "10.0.20.5/24"} {
		if !strings.Contains(text, want) {
			t.Errorf("workloads table lacks %q:\n%s", want, text)
		}
	}
	host, _ := chromedp.Run(tctx, chromedp.Text(chromedp.ID("hostname")))
	if host != "lab1" {
		t.Errorf("hostname shown %q, want lab1", host)
	}
	links, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#links tbody")))
	if !strings.Contains(links, "br0") || !strings.Contains(links, "10.0.2.15/24") {
		t.Errorf("network table:\n%s", links)
	}
	step("served leases listed", chromedp.WaitVisible(chromedp.CSS(`#leases tbody tr[data-mac="02:aa:00:00:00:02"][data-active="false"]`)))
	leases, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#leases tbody")))
	for _, want := range []string{"10.0.10.5", "02:00:00:00:00:05", "vm1", "fixed, until", "10.0.10.100", "laptop", "10.0.20.100", "expired"} {
		if !strings.Contains(leases, want) {
			t.Errorf("leases table lacks %q:\n%s", want, leases)
		}
	}
	step("backlog in the log", chromedp.Poll[chromedp.Void](`document.getElementById("log").textContent.includes("starting as PID 1")`))

	// Mark the page so that a reload would show: the marker is gone
	// after one.
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.nucboxMarker = true`)); err != nil {
		t.Fatal(err)
	}
	box.setWorkloadState("ubuntu1", "running")
	box.follow <- LogLine{Seq: 3, Time: 5 * time.Second, Text: "nucbox: vm ubuntu1: running"}
	step("state change shown", chromedp.WaitVisible(chromedp.CSS(`#workloads tbody tr[data-name="ubuntu1"][data-state="running"]`)))
	step("new log line shown", chromedp.Poll[chromedp.Void](`document.getElementById("log").textContent.includes("vm ubuntu1: running")`))
	still, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.nucboxMarker === true`))
	if err != nil || !still {
		t.Errorf("the page reloaded to show the change (marker %v, %v)", still, err)
	}

	// A pending try: shown with its countdown, confirmed from the page
	// with the token (the login cookie only reads).
	box.mu.Lock()
	box.try = &TryState{Config: strings.Repeat("c", 64), Previous: strings.Repeat("p", 64), Deadline: time.Now().Add(2*time.Minute + 30*time.Second)}
	box.workloads[0].State, box.workloads[0].Held, box.workloads[0].PID = "stopped", true, 0
	box.mu.Unlock()
	step("pending try shown", chromedp.WaitVisible(chromedp.ID("try-section")))
	step("countdown running", chromedp.Poll[chromedp.Void](`/^2m \d+s$/.test(document.getElementById("try-countdown").textContent)`))
	tryText, _ := chromedp.Run(tctx, chromedp.Text(chromedp.ID("try-section")))
	if !strings.Contains(tryText, "cccccccccccc") || !strings.Contains(tryText, "pppppppppppp") {
		t.Errorf("the try section does not name the configs:\n%s", tryText)
	}
	first, _ := chromedp.Run(tctx, chromedp.Text(chromedp.ID("try-countdown")))
	step("countdown counts down", chromedp.Poll[chromedp.Void](`document.getElementById("try-countdown").textContent !== `+strconv.Quote(first)))
	if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifactsDir(t), "status-page-try.png"), png, 0o644)
	}
	step("held workload shown", chromedp.WaitVisible(chromedp.CSS(`#workloads tbody tr[data-name="web"][data-state="stopped"][data-held="true"]`)))
	held, _ := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#workloads tbody tr[data-name="web"]`)))
	if !strings.Contains(held, "stopped (held)") {
		t.Errorf("the held container's row: %q", held)
	}
	step("confirm with a wrong token", chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("confirm-token"), "wrong-token-0123456789"),
		chromedp.Click(chromedp.ID("confirm-button")),
		chromedp.Poll[chromedp.Void](`document.getElementById("confirm-result").textContent.includes("not right")`),
	))
	box.mu.Lock()
	stillTry := box.try != nil
	box.mu.Unlock()
	if !stillTry {
		t.Fatal("a wrong token confirmed the try")
	}
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.getElementById("confirm-token").value = ""; true`)); err != nil {
		t.Fatal(err)
	}
	step("confirm", chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("confirm-token"), testToken),
		chromedp.Click(chromedp.ID("confirm-button")),
	))
	if _, err := chromedp.Run(tctx, chromedp.Poll[chromedp.Void](`document.getElementById("confirm-result").textContent.includes("Confirmed")`)); err != nil {
		res, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById("confirm-result").textContent + " | marker " + window.nucboxMarker + " | try " + document.getElementById("try-section").hidden`))
		t.Fatalf("no confirmation shown (%v): %q", err, res)
	}
	step("try no longer shown", chromedp.WaitNotVisible(chromedp.ID("try-section")))
	box.mu.Lock()
	confirmed := box.try == nil
	box.mu.Unlock()
	if !confirmed {
		t.Error("the Confirm button did not confirm the try")
	}

	// A data partition that is not mounted is shown among the errors;
	// none was before.
	if shown, _ := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.getElementById("errors").textContent.includes("NOT MOUNTED")`)); shown {
		t.Error("the page shows a data partition the box did not report")
	}
	box.mu.Lock()
	box.state.Data = &DataPartition{State: DataNotMounted, Device: "/dev/sda2", MountPoint: "/var/lib/nucbox", Reason: "no usable superblock"}
	box.mu.Unlock()
	step("data partition shown", chromedp.Poll[chromedp.Void](`document.getElementById("errors").textContent.includes("/dev/sda2 NOT MOUNTED: no usable superblock")`))

	png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifactsDir(t), "status-page.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// TestWebPageActions stops a container with the page's button, sees it
// stopped, and starts it again. The buttons need the token itself: a wrong
// one stops nothing and is asked for again.
func TestWebPageActions(t *testing.T) {
	chromium := chromiumPath(t)
	box := newFakeBox()
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: t.Logf})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	ctx, step := openPage(t, chromium, ts.URL+"/",
		`"result: " + document.getElementById("apply-result").textContent + " | go hidden: " + document.getElementById("apply-go").hidden + " | why: " + document.getElementById("action-why").textContent`)
	const web = `#workloads tbody tr[data-name="web"]`
	step("log in", chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(web+`[data-state="running"]`)),
	))
	// A box that serves no DHCP has no leases section.
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.getElementById("leases-section").hidden`)); err != nil || shown {
		t.Errorf("leases section shown without served leases (%v)", err)
	}
	step("stop asks for the token", chromedp.Steps(
		chromedp.Click(chromedp.CSS(web+` button[data-action="stop"]`)),
		chromedp.WaitVisible(chromedp.ID("action-form")),
	))
	step("a wrong token", chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("action-token"), "wrong-token-0123456789"),
		chromedp.Click(chromedp.ID("action-unlock")),
		chromedp.Poll[chromedp.Void](`document.getElementById("action-why").textContent.includes("not right")`),
	))
	if got := box.actionLog(); len(got) != 0 {
		t.Fatalf("a wrong token ran %v", got)
	}
	step("the token stops it", chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("action-token"), testToken),
		chromedp.Click(chromedp.ID("action-unlock")),
		chromedp.WaitVisible(chromedp.CSS(web+`[data-state="stopped"][data-held="true"]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("action-result").textContent.includes("web: stop done, stopped")`),
	))
	tctx, c := context.WithTimeout(ctx, 20*time.Second)
	defer c()
	if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(artifactsDir(t), "status-page-stopped.png")
		os.WriteFile(path, png, 0o644)
		t.Logf("screenshot: %s", path)
	} else {
		t.Error(err)
	}
	// The token is kept for the page's life: the next action asks none.
	step("start it again", chromedp.Steps(
		chromedp.Click(chromedp.CSS(web+` button[data-action="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(web+`[data-state="running"][data-held="false"]`)),
	))
	step("restart", chromedp.Steps(
		chromedp.Click(chromedp.CSS(web+` button[data-action="restart"]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("action-result").textContent.includes("web: restart done, running")`),
	))
	if hidden, _ := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.getElementById("action-form").hidden`)); !hidden {
		t.Error("the token was asked for again")
	}
	if got, want := strings.Join(box.actionLog(), ", "), "stop web, start web, restart web"; got != want {
		t.Errorf("the box saw %q, want %q", got, want)
	}

	// Apply: the running config, edited, its changes shown before
	// anything is applied, and applied only as shown.
	step("load the running config", chromedp.Steps(
		chromedp.Click(chromedp.ID("apply-load")),
		chromedp.Poll[chromedp.Void](`document.getElementById("apply-config").value.startsWith("hostname: lab1")`),
	))
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`const a = document.getElementById("apply-config");
		a.value = a.value.replace("containers:\n", "containers:\n  - name: cache\n    image: docker.io/library/redis:7\n"); true`)); err != nil {
		t.Fatal(err)
	}
	step("show the changes", chromedp.Steps(
		chromedp.Click(chromedp.ID("apply-plan")),
		chromedp.Poll[chromedp.Void](`document.getElementById("apply-diff").textContent.includes("cache")`),
		chromedp.WaitVisible(chromedp.ID("apply-go")),
	))
	diff, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById("apply-diff").textContent`))
	if len(box.appliedNames()) != 0 {
		t.Fatalf("showing the changes applied %v", box.appliedNames())
	}
	if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifactsDir(t), "status-page-apply.png"), png, 0o644)
	}
	// A config edited after its changes were shown is not applied.
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.getElementById("apply-config").value += "# edited\n"; true`)); err != nil {
		t.Fatal(err)
	}
	step("apply refuses an edited config", chromedp.Steps(
		chromedp.Click(chromedp.ID("apply-go")),
		chromedp.Poll[chromedp.Void](`document.getElementById("apply-result").textContent.includes("changed since its changes were shown")`),
	))
	if len(box.appliedNames()) != 0 {
		t.Fatalf("an edited config was applied: %v", box.appliedNames())
	}
	step("show again and apply", chromedp.Steps(
		chromedp.Click(chromedp.ID("apply-plan")),
		chromedp.WaitVisible(chromedp.ID("apply-go")),
		chromedp.Click(chromedp.ID("apply-go")),
		chromedp.Poll[chromedp.Void](`document.getElementById("apply-result").textContent.startsWith("Applied: the box runs config")`),
	))
	cfg, _ := box.RunningConfig()
	if got := box.appliedNames(); len(got) != 1 || got[0] != "page.yaml" || !strings.Contains(cfg.Text, "name: cache") {
		t.Errorf("applied %v, running config:\n%s", got, cfg.Text)
	}
	t.Logf("changes shown:\n%s", diff)
	// An invalid config shows where it is wrong and offers no apply.
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.getElementById("apply-config").value = "hostname: Bad_Name\n"; true`)); err != nil {
		t.Fatal(err)
	}
	step("an invalid config", chromedp.Steps(
		chromedp.Click(chromedp.ID("apply-plan")),
		chromedp.Poll[chromedp.Void](`document.getElementById("apply-diff").textContent.includes("page.yaml:1:")`),
		chromedp.Poll[chromedp.Void](`document.getElementById("apply-go").hidden`),
	))
}
