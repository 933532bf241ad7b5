package box

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/nucbox/nucbox/internal/atomicfile"
)

// LastGoodPath is where the last known good config is kept under the
// data partition's mount point dataDir: the next boot's fallback when the
// config it is given cannot be had or does not work.
func LastGoodPath(dataDir string) string { return filepath.Join(dataDir, "config", "last-good.yaml") }

// lastGoodMeta is the description saved beside it.
func lastGoodMeta(dataDir string) string { return filepath.Join(dataDir, "config", "last-good.json") }

// lastGoodInfo describes the saved config for people reading the disk.
type lastGoodInfo struct {
	Source string    `json:"source"`
	SHA256 string    `json:"sha256"`
	Saved  time.Time `json:"saved"`
}

// rememberGood saves rec as the last known good config, the one the next
// boot falls back to. It is called only for configs that reached ready,
// were applied without a trial, or were confirmed; a config on trial is
// never saved, so a reboot during a try comes back to the previous one.
// Without a data partition nothing is saved.
func (b *Box) rememberGood(rec ConfigRecord) {
	dir := b.o.DataDir
	if dir == "" || rec.isMaintenance() {
		return
	}
	log := b.logger("data partition: ")
	if old, err := os.ReadFile(LastGoodPath(dir)); err == nil && NewConfigRecord("", old).SHA256 == rec.SHA256 {
		return
	}
	if err := saveLastGood(dir, rec); err != nil {
		log.Printf("warning: saving the last good config: %v", err)
		return
	}
	log.Printf("saved config %s as the last known good one", short(rec.SHA256))
}

func saveLastGood(dir string, rec ConfigRecord) error {
	file := LastGoodPath(dir)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	meta, err := json.MarshalIndent(lastGoodInfo{Source: rec.Source, SHA256: rec.SHA256, Saved: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	// Config first: a crash between the two leaves a config whose
	// description is stale, never a description of a missing config.
	if err := atomicfile.WriteFile(file, rec.Data, 0o600); err != nil {
		return err
	}
	return atomicfile.WriteFile(lastGoodMeta(dir), append(meta, '\n'), 0o600)
}
