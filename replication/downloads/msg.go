package downloads

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/clone2clone/c2c/replication/journal"
)

// Limits of the app's payloads.
const (
	MaxURLBytes    = 4096
	MaxReasonBytes = 512
	MaxNameBytes   = 255 // a signature name or how it matched
)

// ErrBadOp: a payload that is not a valid input, or one that does not apply
// (pulled before it was cached, a request that does not exist).
var ErrBadOp = errors.New("downloads: invalid input")

func bad(what string, args ...any) error {
	return fmt.Errorf("%w: "+what, append([]any{ErrBadOp}, args...)...)
}

// When is the device's pull policy for one download.
type When uint8

const (
	// Now: pull as soon as the clone has cached it.
	Now When = 1
	// WiFi: pull when the device is on Wi-Fi.
	WiFi When = 2
	// Charge: pull when the device is charging.
	Charge When = 3
	// Manual: pull only when the user asks.
	Manual When = 4
)

var whenNames = [...]string{Now: "now", WiFi: "wifi", Charge: "charge", Manual: "manual"}

func (w When) String() string {
	if w >= Now && w <= Manual {
		return whenNames[w]
	}
	return fmt.Sprintf("when(%d)", uint8(w))
}

// ParseWhen reads "now", "wifi", "charge" or "manual".
func ParseWhen(s string) (When, error) {
	for w := Now; w <= Manual; w++ {
		if whenNames[w] == s {
			return w, nil
		}
	}
	return 0, fmt.Errorf("downloads: --when %q: want now, wifi, charge or manual", s)
}

// CheckURL accepts an absolute http or https URL of at most MaxURLBytes
// with a host: the only URLs the clone will fetch.
func CheckURL(raw string) error {
	if len(raw) == 0 || len(raw) > MaxURLBytes {
		return bad("URL of %d bytes, want 1 to %d", len(raw), MaxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("URL scheme %q: only http and https", u.Scheme)
	}
	if u.Host == "" {
		return bad("URL %q has no host", raw)
	}
	return nil
}

// Request returns the user input "download url, pull it when".
func Request(url string, when When) []byte {
	return journal.NewRec(opRequest).B([]byte(url)).U(uint64(when))
}

// Pulled returns the user input "the device holds download id's file":
// the device makes it once it has pulled and verified every block.
func Pulled(id [32]byte) []byte { return append([]byte{opPulled}, id[:]...) }

// Retry returns the user input "fetch the failed download id again".
func Retry(id [32]byte) []byte { return append([]byte{opRetry}, id[:]...) }

// Forget returns the user input that removes download id from the list.
func Forget(id [32]byte) []byte { return append([]byte{opForget}, id[:]...) }

const (
	opRequest = 'd'
	opPulled  = 'p'
	opRetry   = 'r'
	opForget  = 'x'

	netCached = 'c'
	netFailed = 'f'
)

type userOp struct {
	kind byte
	url  string
	when When
	id   [32]byte
}

func parseUser(p []byte) (userOp, error) {
	if len(p) == 0 {
		return userOp{}, bad("empty user input")
	}
	switch p[0] {
	case opPulled, opRetry, opForget:
		if len(p) != 33 {
			return userOp{}, bad("%q input of %d bytes, want 33", p[0], len(p))
		}
		return userOp{kind: p[0], id: [32]byte(p[1:])}, nil
	case opRequest:
		_, r := journal.Read(p)
		u := string(r.B())
		w := When(r.U())
		if err := r.End(); err != nil {
			return userOp{}, bad("request: %v", err)
		}
		if w < Now || w > Manual {
			return userOp{}, bad("pull policy %d", w)
		}
		if err := CheckURL(u); err != nil {
			return userOp{}, err
		}
		return userOp{kind: opRequest, url: u, when: w}, nil
	}
	return userOp{}, bad("user input kind %#x", p[0])
}

// Verdict is the clone's scan of a cached file.
type Verdict struct {
	Infected  bool
	Name, By  string // the signature's name and how it matched (scan.Verdict)
	DBVersion uint64 // the signature database's version
}

// Cached is the network input "file cached" (or, with Reason set, "could
// not be cached") that the clone relays to the device.
type Cached struct {
	ID      [32]byte
	Try     uint64        // the Item.Tries it answers: a late copy for an earlier try is ignored
	Ref     boxostore.Ref // the file in the mirror's store (zero if failed)
	Verdict Verdict
	Reason  string // why the download failed; empty if cached
}

// Failed reports whether the clone gave up on the download.
func (c *Cached) Failed() bool { return c.Reason != "" }

// Marshal encodes c: 'c' id try ref infected name by dbVersion, or 'f'
// id try reason.
func (c *Cached) Marshal() []byte {
	if c.Failed() {
		return journal.NewRec(netFailed).B(c.ID[:]).U(c.Try).B([]byte(c.Reason))
	}
	r := journal.NewRec(netCached).B(c.ID[:]).U(c.Try).B(boxostore.AppendRef(nil, c.Ref))
	inf := uint64(0)
	if c.Verdict.Infected {
		inf = 1
	}
	return r.U(inf).B([]byte(c.Verdict.Name)).B([]byte(c.Verdict.By)).U(c.Verdict.DBVersion)
}

// UnmarshalCached decodes and checks a "file cached" payload.
func UnmarshalCached(p []byte) (*Cached, error) {
	k, r := journal.Read(p)
	id := r.B()
	if r.Err == nil && len(id) != 32 {
		return nil, bad("request ID of %d bytes", len(id))
	}
	c := &Cached{Try: r.U()}
	copy(c.ID[:], id)
	switch k {
	case netFailed:
		c.Reason = string(r.B())
		if err := r.End(); err != nil {
			return nil, bad("failure: %v", err)
		}
		if len(c.Reason) == 0 || len(c.Reason) > MaxReasonBytes {
			return nil, bad("reason of %d bytes, want 1 to %d", len(c.Reason), MaxReasonBytes)
		}
		return c, nil
	case netCached:
		refb := r.B()
		inf := r.U()
		c.Verdict.Name, c.Verdict.By = string(r.B()), string(r.B())
		c.Verdict.DBVersion = r.U()
		if err := r.End(); err != nil {
			return nil, bad("cached: %v", err)
		}
		ref, rest, err := boxostore.ReadRef(refb)
		if err != nil || len(rest) != 0 {
			return nil, bad("cached: ref: %v", err)
		}
		if inf > 1 || len(c.Verdict.Name) > MaxNameBytes || len(c.Verdict.By) > MaxNameBytes {
			return nil, bad("cached: verdict")
		}
		c.Ref, c.Verdict.Infected = ref, inf == 1
		return c, nil
	}
	return nil, bad("network input kind %#x", k)
}

// Conditions are what the device reports of itself for its pull policy.
type Conditions struct {
	WiFi     bool `json:"wifi"`
	Charging bool `json:"charging"`
}

// Allows reports whether a download with policy w is pulled by itself
// under c: now always, wifi on Wi-Fi, charge while charging, manual never
// (only by hand).
func (w When) Allows(c Conditions) bool {
	switch w {
	case Now:
		return true
	case WiFi:
		return c.WiFi
	case Charge:
		return c.Charging
	}
	return false
}
