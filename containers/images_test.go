package containers

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func checkImage(t *testing.T, got *Image, want v1.Image) {
	t.Helper()
	layers, _ := want.Layers()
	if len(got.Layers) != len(layers) {
		t.Fatalf("%d layers, want %d", len(got.Layers), len(layers))
	}
	for i, l := range layers {
		d, _ := l.DiffID()
		if filepath.Base(got.Layers[i]) != d.Hex {
			t.Errorf("layer %d at %s, want diff id %s", i, got.Layers[i], d.Hex)
		}
		if ents, err := os.ReadDir(got.Layers[i]); err != nil || len(ents) == 0 {
			t.Errorf("layer %d empty: %v", i, err)
		}
	}
}

func TestOCILayoutAndDockerArchive(t *testing.T) {
	dir := t.TempDir()
	layoutSource := func(tag string) Source {
		return Source{Transport: TransportOCILayout, Path: filepath.Join(dir, "oci"), Tag: tag}
	}
	st, err := NewStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}

	a, b := randomImage(t), randomImage(t)
	p, err := layout.Write(filepath.Join(dir, "oci"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(a, layout.WithAnnotations(map[string]string{refNameAnnotation: "a"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(b, layout.WithAnnotations(map[string]string{refNameAnnotation: "b"})); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(context.Background(), layoutSource("b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, got, b)
	if d, _ := b.Digest(); got.Digest != d.String() {
		t.Errorf("digest %s, want %s", got.Digest, d)
	}
	if _, err := st.Get(context.Background(), layoutSource(""), nil); err == nil || !strings.Contains(err.Error(), "2 images") {
		t.Errorf("untagged pick from a two-image layout: %v", err)
	}
	if _, err := st.Get(context.Background(), layoutSource("zz"), nil); err == nil {
		t.Error("missing tag accepted")
	}

	tag, _ := name.NewTag("lab/app:1")
	if err := tarball.WriteToFile(filepath.Join(dir, "app.tar"), tag, a); err != nil {
		t.Fatal(err)
	}
	got, err = st.Get(context.Background(), Source{Transport: TransportDockerArchive, Path: filepath.Join(dir, "app.tar")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, got, a)
}

func TestRegistryCredentials(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var sawAuth atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, pw, ok := r.BasicAuth()
		if !ok || u != "lab" || pw != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "auth", http.StatusUnauthorized)
			return
		}
		sawAuth.Store(true)
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if _, err := url.Parse(srv.URL); err != nil {
		t.Fatal(err)
	}
	img := randomImage(t)
	ref, _ := name.ParseReference(host+"/lab/app:1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "lab", Password: "secret"})); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := NewStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := Source{Transport: TransportRegistry, Ref: ref.Name(), Registry: host,
		Auth: &Auth{Username: "lab", Password: "secret"}, Insecure: true}
	got, err := st.Get(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, got, img)
	if !sawAuth.Load() {
		t.Error("registry saw no credentials")
	}

	anon := src
	anon.Auth = nil
	st2, _ := NewStore(t.TempDir(), nil)
	if _, err := st2.Get(context.Background(), anon, nil); err == nil {
		t.Error("anonymous pull from a registry that needs credentials succeeded")
	}
}
