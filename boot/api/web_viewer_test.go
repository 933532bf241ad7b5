package api

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/nucbox/nucbox/test/ci"
)

// builtWebAssets is build/web, where make web-assets puts the page's
// viewers; without them the test is skipped, except in CI, where the
// test targets fetch them first.
func builtWebAssets(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "build", "web"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"novnc/core/rfb.js", "xterm/lib/xterm.mjs"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			ci.Missing(t, "the page's viewers are not in build/web (make web-assets fetches them): %v", err)
		}
	}
	return dir
}

// fakeVNCServer serves enough RFB 3.8 on a unix socket for noVNC to
// connect, as QEMU does for a VM without a VNC password: banner, security
// type None, ServerInit of a 64x48 true-colour desktop named "fake".
// Everything the viewer sends afterwards is read and dropped.
func fakeVNCServer(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vnc.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveFakeRFB(c)
		}
	}()
	return sock
}

func serveFakeRFB(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 12)
	if _, err := io.WriteString(c, rfbBanner); err != nil {
		return
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return
	}
	c.Write([]byte{1, 1}) // one security type: None
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		return
	}
	c.Write([]byte{0, 0, 0, 0})                        // SecurityResult: OK
	if _, err := io.ReadFull(c, buf[:1]); err != nil { // ClientInit
		return
	}
	init := binary.BigEndian.AppendUint16(nil, 64)
	init = binary.BigEndian.AppendUint16(init, 48)
	// 32 bpp, depth 24, little-endian, true colour, maxima 255, shifts 16/8/0.
	init = append(init, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0)
	init = binary.BigEndian.AppendUint32(init, 4)
	init = append(init, "fake"...)
	c.Write(init)
	io.Copy(io.Discard, c)
}

func insertText(text string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, input.InsertText, input.InsertTextParams{Text: text})
		return chromedp.Void{}, err
	}
}

// TestWebPageViewers opens a VM's screen (noVNC, against a fake VNC
// server) and its serial console (xterm.js, against the echo console) on
// the page, with the token typed on the page; and on a box without the
// viewers the page says they are not installed.
func TestWebPageViewers(t *testing.T) {
	chromium := chromiumPath(t)
	assets := builtWebAssets(t)
	box := newFakeBox()
	box.setWorkloadState("ubuntu1", "running")
	box.vncSock = fakeVNCServer(t)
	s := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: laterLogf(t), WebAssets: assets})
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	bare := New(Options{Box: box, Token: testToken, Links: fakeLinks, Logf: laterLogf(t)})
	tsBare := httptest.NewServer(bare)
	t.Cleanup(func() {
		bare.Close()
		tsBare.Close()
	})

	ctx, step := openPage(t, chromium, ts.URL+"/",
		`"viewer " + document.getElementById("viewer-section").dataset.state + ": " + document.getElementById("viewer-status").textContent + " | " + (document.querySelector("#viewer .xterm-rows") || {textContent: "no rows"}).textContent`)
	login := func() {
		step("log in", chromedp.Steps(
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), testToken),
			chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(chromedp.CSS(`#workloads tbody tr[data-name="ubuntu1"] button[data-open="screen"]`)),
		))
	}
	login()

	step("a wrong token is refused", chromedp.Steps(
		chromedp.Click(chromedp.CSS(`#workloads tbody tr[data-name="ubuntu1"] button[data-open="screen"]`)),
		chromedp.WaitVisible(chromedp.ID("viewer-token")),
		chromedp.SendKeys(chromedp.ID("viewer-token"), "wrong-token-0123456789"),
		chromedp.Click(chromedp.ID("viewer-connect")),
		chromedp.Poll[chromedp.Void](`document.getElementById("viewer-status").textContent.includes("not right")`),
	))
	step("the screen connects with the token", chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("viewer-token"), testToken),
		chromedp.Click(chromedp.ID("viewer-connect")),
		chromedp.WaitVisible(chromedp.CSS(`#viewer-section[data-state="connected"][data-kind="screen"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#viewer canvas`)),
	))
	tctx, c := context.WithTimeout(ctx, 20*time.Second)
	defer c()
	if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifactsDir(t), "screen.png"), png, 0o644)
	}

	step("the console connects and echoes", chromedp.Steps(
		chromedp.Click(chromedp.CSS(`#workloads tbody tr[data-name="ubuntu1"] button[data-open="console"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#viewer-section[data-state="connected"][data-kind="console"]`)),
		chromedp.Focus(chromedp.CSS(`#viewer .xterm-helper-textarea`)),
		// Typed text as the browser's input event carries it (SendKeys'
		// key and char events both reach xterm.js, doubling each key).
		insertText("hello"),
		chromedp.Poll[chromedp.Void](`document.querySelector("#viewer .xterm-rows").textContent.includes("HELLO")`),
	))
	if png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(artifactsDir(t), "console.png"), png, 0o644)
	}
	step("close", chromedp.Steps(
		chromedp.Click(chromedp.ID("viewer-close")),
		chromedp.WaitNotVisible(chromedp.ID("viewer-section")),
	))

	// A box whose image lacks the viewers: the page says so. A login is
	// a session of the server that made it, so this box asks for one.
	step("page of a box without viewers", chromedp.Navigate(tsBare.URL+"/"))
	login()
	step("the screen viewer is missing", chromedp.Steps(
		chromedp.Click(chromedp.CSS(`#workloads tbody tr[data-name="ubuntu1"] button[data-open="screen"]`)),
		chromedp.SendKeys(chromedp.ID("viewer-token"), testToken),
		chromedp.Click(chromedp.ID("viewer-connect")),
		chromedp.WaitVisible(chromedp.CSS(`#viewer-section[data-state="missing"]`)),
	))
	msg, _ := chromedp.Run(tctx, chromedp.Text(chromedp.ID("viewer-status")))
	if !strings.Contains(msg, "not installed") || !strings.Contains(msg, "nucbox vnc ubuntu1") {
		t.Errorf("without viewers the page says %q", msg)
	}
}

// TestVendorFiles: the viewers are served from the image's directory as
// scripts, with no listings; without the directory, nothing.
func TestVendorFiles(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "novnc", "core"), 0o755)
	os.WriteFile(filepath.Join(dir, "novnc", "core", "rfb.js"), []byte("export default class RFB {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "xterm.mjs"), []byte("export class Terminal {}\n"), 0o644)
	_, ts := newTestServerWith(t, Options{WebAssets: dir})
	_, tsBare := newTestServerWith(t, Options{})
	for _, tc := range []struct {
		url, path string
		code      int
		ctype     string
	}{
		{ts.URL, "/static/vendor/novnc/core/rfb.js", 200, "text/javascript"},
		{ts.URL, "/static/vendor/xterm.mjs", 200, "text/javascript"},
		{ts.URL, "/static/vendor/novnc/core/", 404, ""},
		{ts.URL, "/static/vendor/", 404, ""},
		{ts.URL, "/static/vendor/nosuch.js", 404, ""},
		{ts.URL, "/static/app.js", 200, "text/javascript"},
		{tsBare.URL, "/static/vendor/novnc/core/rfb.js", 404, ""},
	} {
		resp, _ := do(t, "GET", tc.url+tc.path, "", "")
		if resp.StatusCode != tc.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.code, tc.ctype)
		}
	}
}

func newTestServerWith(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	o.Box, o.Token, o.Links, o.Logf = newFakeBox(), testToken, fakeLinks, laterLogf(t)
	s := New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}
