package containers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nucbox/nucbox/internal/atomicfile"
)

// Store is the image cache in the state directory:
//
//	images/refs/<sha256 of the reference>  the image digest a reference resolved to
//	images/<digest>/image.json             the image's config and layer list
//	layers/<diffid>/                       one unpacked layer (overlay lower dir)
//
// A reference that resolved once is not looked up again, so a box that
// booted once keeps working without the registry. Layers are shared by
// every image that has them.
type Store struct {
	dir string
	log *slog.Logger

	mu     sync.Mutex // serialises pulls: two containers of one image unpack it once
	limits LayerLimits
}

// Image is an image ready to run: its config and unpacked layers.
type Image struct {
	// Digest identifies the image (the manifest digest for registry and
	// OCI layout images, the config digest for docker-save tars).
	Digest string `json:"digest"`
	// Ref is the reference the image was first resolved from.
	Ref    string        `json:"ref"`
	Config v1.ConfigFile `json:"config"`
	// Layers are the unpacked layer directories, lowest first.
	Layers []string `json:"layers"`
}

// Progress reports a pull as it goes.
type Progress struct {
	Ref string
	// Layer is the 1-based index of the layer being fetched, of Layers.
	Layer, Layers int
	// Done and Total are bytes of the compressed layer (Total -1 when
	// unknown). Cached is set for a layer already in the store.
	Done, Total int64
	Cached      bool
}

// NewStore opens (creating) the cache under stateDir.
func NewStore(stateDir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, d := range []string{"images/refs", "layers", "tmp"} {
		if err := os.MkdirAll(filepath.Join(stateDir, d), 0o700); err != nil {
			return nil, err
		}
	}
	return &Store{dir: stateDir, log: log}, nil
}

// Image transports: where a Source's image comes from.
const (
	TransportRegistry      = "registry"
	TransportOCILayout     = "oci-layout"
	TransportDockerArchive = "docker-archive"
)

// Source is where an image comes from, resolved: config/plan compiles it
// from the config's image reference, with paths absolute and the
// registry's credentials looked up.
type Source struct {
	// Transport is TransportRegistry, TransportOCILayout or
	// TransportDockerArchive.
	Transport string `json:"transport"`
	// Ref is the full registry reference, with the default registry and
	// tag filled in (index.docker.io/library/nginx:latest); registry
	// images only.
	Ref string `json:"ref,omitempty"`
	// Registry is Ref's registry host.
	Registry string `json:"registry,omitempty"`
	// Path is the OCI layout directory or the docker-archive file,
	// absolute.
	Path string `json:"path,omitempty"`
	// Tag selects an image of an OCI layout by its ref.name annotation;
	// empty means the layout's only image.
	Tag string `json:"tag,omitempty"`
	// Auth is the registry's credentials; nil pulls anonymously.
	Auth *Auth `json:"auth,omitempty"`
	// Insecure allows plain HTTP registries (tests, lab registries).
	Insecure bool `json:"insecure,omitempty"`
}

// Auth is a registry's credentials. The password is never written out:
// plans and status get pasted into tickets.
type Auth struct {
	Username string `json:"username"`
	Password string `json:"-"`
}

// Check reports a source that names no image.
func (s Source) Check() error {
	switch s.Transport {
	case TransportRegistry:
		if s.Ref == "" {
			return fmt.Errorf("registry image without a reference")
		}
	case TransportOCILayout, TransportDockerArchive:
		if !filepath.IsAbs(s.Path) {
			return fmt.Errorf("%s image: path %q is not absolute", s.Transport, s.Path)
		}
	default:
		return fmt.Errorf("unknown image transport %q", s.Transport)
	}
	return nil
}

// key names a source in images/refs.
func (s Source) key() string {
	id := s.Transport + ":" + s.Ref + s.Path + ":" + s.Tag
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (s Source) String() string {
	if s.Transport == TransportRegistry {
		return s.Ref
	}
	if s.Tag != "" {
		return s.Transport + ":" + s.Path + ":" + s.Tag
	}
	return s.Transport + ":" + s.Path
}

// Get returns the image, fetching and unpacking it the first time only.
// progress may be nil.
func (s *Store) Get(ctx context.Context, src Source, progress func(Progress)) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	refFile := filepath.Join(s.dir, "images/refs", src.key())
	if b, err := os.ReadFile(refFile); err == nil {
		if img, err := s.load(strings.TrimSpace(string(b))); err == nil {
			return img, nil
		}
	}
	img, err := s.fetch(ctx, src, progress)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", src, err)
	}
	return img, writeAtomic(refFile, []byte(img.Digest+"\n"))
}

func (s *Store) imageFile(digest string) string {
	return filepath.Join(s.dir, "images", strings.ReplaceAll(digest, ":", "-"), "image.json")
}

func (s *Store) load(digest string) (*Image, error) {
	b, err := os.ReadFile(s.imageFile(digest))
	if err != nil {
		return nil, err
	}
	var img Image
	if err := json.Unmarshal(b, &img); err != nil {
		return nil, fmt.Errorf("%s: %w", s.imageFile(digest), err)
	}
	for _, l := range img.Layers {
		if _, err := os.Stat(l); err != nil {
			return nil, err
		}
	}
	return &img, nil
}

// fetch resolves the source to an image and unpacks its layers.
func (s *Store) fetch(ctx context.Context, src Source, progress func(Progress)) (*Image, error) {
	im, err := open(ctx, src)
	if err != nil {
		return nil, err
	}
	digest, err := imageDigest(im, src)
	if err != nil {
		return nil, err
	}
	if img, err := s.load(digest); err == nil {
		return img, nil
	}
	cf, err := im.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	layers, err := im.Layers()
	if err != nil {
		return nil, err
	}
	img := &Image{Digest: digest, Ref: src.String(), Config: *cf}
	for i, l := range layers {
		dir, err := s.unpackLayer(l, func(p Progress) {
			if progress != nil {
				p.Ref, p.Layer, p.Layers = src.String(), i+1, len(layers)
				progress(p)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("layer %d of %d: %w", i+1, len(layers), err)
		}
		img.Layers = append(img.Layers, dir)
	}
	b, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(s.imageFile(digest)), 0o700); err != nil {
		return nil, err
	}
	if err := writeAtomic(s.imageFile(digest), b); err != nil {
		return nil, err
	}
	s.log.Info("image ready", "image", src.String(), "digest", digest, "layers", len(layers))
	return img, nil
}

// unpackLayer extracts a layer into layers/<diffid> unless it is there.
// It unpacks into a temporary directory renamed into place at the end,
// so a crash never leaves a half layer that looks complete.
func (s *Store) unpackLayer(l v1.Layer, progress func(Progress)) (string, error) {
	diff, err := l.DiffID()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(s.dir, "layers", diff.Hex)
	if _, err := os.Stat(dir); err == nil {
		progress(Progress{Cached: true})
		return dir, nil
	}
	size, err := l.Size()
	if err != nil {
		size = -1
	}
	rc, err := l.Compressed()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	cr := &countingReader{r: rc, total: size, report: progress}
	// Uncompressing through the layer would fetch it a second time;
	// decompress what was counted instead.
	ur, err := uncompress(cr)
	if err != nil {
		return "", err
	}
	defer ur.Close()
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "layer-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// Hashed while unpacking: the DiffID names the directory other
	// images share, so content that does not match never gets there.
	if err := s.limits.unpackVerified(ur, filepath.Join(tmp, "fs"), diff); err != nil {
		return "", err
	}
	// Read the compressed stream to its end: the registry reader checks
	// the blob's digest at EOF, and a mismatch must fail the layer.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return "", fmt.Errorf("layer blob: %w", err)
	}
	progress(Progress{Done: cr.n, Total: size})
	if err := os.Rename(filepath.Join(tmp, "fs"), dir); err != nil {
		return "", err
	}
	return dir, nil
}

// countingReader reports progress at most once per MiB.
type countingReader struct {
	r        io.Reader
	n, total int64
	last     int64
	report   func(Progress)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n-c.last >= 1<<20 {
		c.last = c.n
		c.report(Progress{Done: c.n, Total: c.total})
	}
	return n, err
}

// writeAtomic replaces path whole: a power cut leaves the old file or
// the new one.
func writeAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data, 0o644) }
