package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Upgrader is implemented by a Box that booted from a disk with A/B boot
// slots. A Box without it answers the upgrade endpoint with 501.
type Upgrader interface {
	// Upgrade writes the unified kernel image into the slot the box is
	// not running from, on trial for tries boots (0: the box's default).
	Upgrade(image []byte, tries int) (UpgradeResult, error)
}

// Errors an Upgrader returns, wrapped with the details.
var (
	// ErrNoSlots: the box did not boot from a disk with boot slots.
	ErrNoSlots = errors.New("no boot slots")
	// ErrBadImage: the upload is not a nucbox unified kernel image.
	ErrBadImage = errors.New("not a nucbox image")
	// ErrUntrusted: the box booted with Secure Boot on and its firmware
	// would not boot the upload.
	ErrUntrusted = errors.New("refused by Secure Boot")
	// ErrGeneration: a signed upload whose generation is not above the
	// running image's, which the box cannot raise without breaking the
	// signature.
	ErrGeneration = errors.New("the signed image's generation is too low")
)

// MaxUpgradeBytes bounds an uploaded image; one with QEMU inside is
// about 60 MiB.
const MaxUpgradeBytes = 512 << 20

// UpgradeResult says where an upgrade went.
type UpgradeResult struct {
	// From and Slot are the running slot and the one written (a or b).
	From string `json:"from"`
	Slot string `json:"slot"`
	// File is the image's name on the ESP, with its boot counter.
	File string `json:"file"`
	// Generation is the new image's IMAGE_VERSION, one more than the
	// running image's so that the boot loader prefers it.
	Generation int    `json:"generation"`
	Version    string `json:"version"`
	Tries      int    `json:"tries"`
	Bytes      int    `json:"bytes"`
	// Rebooting is set when the box reboots into the new image now.
	Rebooting bool `json:"rebooting"`
}

// SlotState is the boot slot the box runs from, in the status.
type SlotState struct {
	Slot       string `json:"slot"`
	Generation int    `json:"generation,omitempty"`
	Version    string `json:"version,omitempty"`
	// Trial is set while a new image has not reached ready yet.
	Trial bool `json:"trial,omitempty"`
	// RolledBack describes an upgrade that failed and was undone by the
	// boot loader, and why: "slot b (generation 2) was rolled back: not
	// ready after 10m0s, stuck in phase apply, stage network".
	RolledBack string `json:"rolled_back,omitempty"`
}

// handleUpgrade takes a unified kernel image as the request body:
// POST /v1/upgrade?tries=N&reboot=true.
func (s *Server) handleUpgrade(w http.ResponseWriter, r *http.Request) {
	up, ok := s.box.(Upgrader)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this box cannot be upgraded")
		return
	}
	tries := 0
	if v := r.URL.Query().Get("tries"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 9 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("tries=%q: want 1 to 9", v))
			return
		}
		tries = n
	}
	reboot, _ := strconv.ParseBool(r.URL.Query().Get("reboot"))
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxUpgradeBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the image is larger than %d MiB", MaxUpgradeBytes>>20))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the image: "+err.Error())
		return
	case len(data) == 0:
		writeError(w, http.StatusBadRequest, "no image in the request body")
		return
	}
	s.logf("api: upgrade with a %d MiB image (request from %s)", len(data)>>20, who(r))
	res, err := up.Upgrade(data, tries)
	switch {
	case errors.Is(err, ErrBadImage), errors.Is(err, ErrUntrusted), errors.Is(err, ErrGeneration):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, ErrNoSlots), errors.Is(err, ErrBusy):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if reboot {
		if err := s.box.Power(Reboot, fmt.Sprintf("upgrade to slot %s", res.Slot)); err != nil {
			s.logf("api: upgrade written, but the reboot was refused: %v", err)
		} else {
			res.Rebooting = true
		}
	}
	writeJSON(w, http.StatusOK, res)
}
