package scanwire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/replication/boxostore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxReportBytes caps a signed report on the wire.
const MaxReportBytes = 32 << 20

// A Report is `c2c device scan`'s answer: every file of the device's
// mirror with its verdict, signed by the clone.
type Report struct {
	Clone     string        `json:"clone"`    // the clone's peer ID, which signs
	Provider  string        `json:"provider"` // whose key signs each verdict
	Device    string        `json:"device"`   // the device's peer ID
	DBVersion uint64        `json:"db_version"`
	Time      string        `json:"time"` // RFC 3339, the clone's clock
	Files     []ReportEntry `json:"files"`
	Infected  int           `json:"infected"`
	Errors    int           `json:"errors"`
}

// A ReportEntry is one file of the mirror.
type ReportEntry struct {
	Path      string `json:"path"`
	CID       string `json:"cid"`
	SHA256    string `json:"sha256"`
	Size      uint64 `json:"size"`
	Infected  bool   `json:"infected"`
	Name      string `json:"name,omitempty"`
	By        string `json:"by,omitempty"`
	DBVersion uint64 `json:"db_version"`
	// Verdict is the provider's signed verdict (base64), which
	// VerifyReport checks too.
	Verdict string `json:"provider_verdict,omitempty"`
	Error   string `json:"error,omitempty"`
}

// A SignedReport is what the device gets and keeps: the report's JSON as
// signed, and the clone's signature over it.
type SignedReport struct {
	Report    json.RawMessage `json:"report"`
	Signature []byte          `json:"signature"`
}

// SignReport signs r with the clone's key.
func SignReport(r *Report, key crypto.PrivKey) ([]byte, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	sig, err := key.Sign(append([]byte(reportDomain), body...))
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(SignedReport{Report: body, Signature: sig}, "", "  ")
}

// UnmarshalReport decodes a signed report without checking it.
func UnmarshalReport(b []byte) (*Report, error) {
	if len(b) > MaxReportBytes {
		return nil, fmt.Errorf("%w: report of %d bytes, cap %d", ErrMalformed, len(b), MaxReportBytes)
	}
	var sr SignedReport
	if err := json.Unmarshal(b, &sr); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var r Report
	if err := json.Unmarshal(sr.Report, &r); err != nil {
		return nil, fmt.Errorf("%w: report: %w", ErrMalformed, err)
	}
	return &r, nil
}

// VerifyReport checks a signed report offline: the clone's signature
// (under the key its peer ID holds; if clone is not empty, it must be that
// clone), and each file's signed verdict under the provider's key, for the
// file's SHA-256, size and version. It returns the report.
//
// With clone empty, this proves the report intact, not who made it: the
// report names its own clone and provider, and anyone can sign one under
// keys of their own. VerifyReportFrom also pins the provider.
func VerifyReport(b []byte, clone peer.ID) (*Report, error) {
	return VerifyReportFrom(b, clone, "")
}

// VerifyReportFrom is VerifyReport that also requires, if provider is not
// empty, the verdicts to be that provider's.
func VerifyReportFrom(b []byte, clone, provider peer.ID) (*Report, error) {
	r, err := UnmarshalReport(b)
	if err != nil {
		return nil, err
	}
	var sr SignedReport
	_ = json.Unmarshal(b, &sr)
	signer, err := peer.Decode(r.Clone)
	if err != nil {
		return nil, fmt.Errorf("%w: clone %q: %w", ErrMalformed, r.Clone, err)
	}
	if clone != "" && signer != clone {
		return nil, fmt.Errorf("%w: signed by %s, not %s", ErrSignature, signer, clone)
	}
	compact, err := compactJSON(sr.Report)
	if err != nil {
		return nil, err
	}
	if err := verify(signer, append([]byte(reportDomain), compact...), sr.Signature); err != nil {
		return nil, err
	}
	prov, err := peer.Decode(r.Provider)
	if err != nil {
		return nil, fmt.Errorf("%w: provider %q: %w", ErrMalformed, r.Provider, err)
	}
	if provider != "" && prov != provider {
		return nil, fmt.Errorf("%w: verdicts of provider %s, not %s", ErrSignature, prov, provider)
	}
	for _, e := range r.Files {
		if e.Error != "" {
			continue
		}
		if err := checkEntry(e, prov); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
	}
	return r, nil
}

// compactJSON undoes the indentation MarshalIndent gave the raw report:
// the bytes signed are json.Marshal's, which have no insignificant space.
func compactJSON(raw json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b.Bytes(), nil
}

func checkEntry(e ReportEntry, prov peer.ID) error {
	b, err := base64.StdEncoding.DecodeString(e.Verdict)
	if err != nil {
		return fmt.Errorf("%w: verdict: %w", ErrMalformed, err)
	}
	v, err := UnmarshalVerdict(b)
	if err != nil {
		return err
	}
	if err := v.Verify(prov); err != nil {
		return err
	}
	if hex.EncodeToString(v.SHA256[:]) != e.SHA256 || v.Size != e.Size || v.Version != e.DBVersion ||
		v.Verdict.Infected != e.Infected || v.Verdict.Name != e.Name {
		return fmt.Errorf("%w: the entry differs from the provider's verdict", ErrSignature)
	}
	return nil
}

// ServeReports answers ReportProtocol on h for device only, one report at
// a time: it checks every file list returns with c (retrying while the
// provider is busy), sends a progress frame per file, then the report
// signed with h's key. The returned function stops serving.
func ServeReports(h host.Host, device peer.ID, c *Client, list Lister, log *slog.Logger) func() {
	key := h.Peerstore().PrivKey(h.ID())
	one := make(chan struct{}, 1) // one report at a time
	h.SetStreamHandler(ReportProtocol, func(s network.Stream) {
		defer s.Close()
		if s.Conn().RemotePeer() != device || key == nil {
			_, _ = bounded.WriteFrame(s, refusal(codeRefused, "only the clone's own device may ask for its scan report"))
			return
		}
		select {
		case one <- struct{}{}:
			defer func() { <-one }()
		default:
			_, _ = bounded.WriteFrame(s, refusal(codeBusy, "a scan report is being made; retry when it is done"))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		_ = s.SetDeadline(time.Now().Add(30 * time.Minute))
		go func() { // the device hanging up ends the work
			_, _ = io.Copy(io.Discard, s)
			cancel()
		}()
		b, err := BuildReport(ctx, h.ID(), device, c, list, func(done, total int) {
			_, _ = bounded.WriteFrame(s, step(done, total))
		}, key)
		if err != nil {
			log.Warn("scan report", "err", err)
			_, _ = bounded.WriteFrame(s, refusal(codeRefused, err.Error()))
			return
		}
		_, _ = bounded.WriteFrame(s, append([]byte{tagReport}, b...))
	})
	return func() { h.RemoveStreamHandler(ReportProtocol) }
}

// BuildReport checks every file and signs the report.
func BuildReport(ctx context.Context, clone, device peer.ID, c *Client, list Lister, progress func(done, total int), key crypto.PrivKey) ([]byte, error) {
	if _, err := c.Sync(ctx); err != nil {
		return nil, fmt.Errorf("the provider's signature database: %w", err)
	}
	files, err := list(ctx)
	if err != nil {
		return nil, err
	}
	r := &Report{Clone: clone.String(), Provider: c.Provider().String(), Device: device.String(),
		DBVersion: c.Version(), Time: time.Now().UTC().Format(time.RFC3339), Files: []ReportEntry{}}
	progress(0, len(files))
	for i, f := range files {
		e := ReportEntry{Path: f.Path, CID: f.Ref.CID.String(), SHA256: hex.EncodeToString(f.Ref.SHA256[:]), Size: f.Ref.Size}
		v, err := c.CheckRetry(ctx, f.Ref)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			e.Error = err.Error()
			r.Errors++
		} else {
			e.Infected, e.Name, e.By, e.DBVersion = v.Verdict.Infected, v.Verdict.Name, v.Verdict.By, v.Version
			e.Verdict = base64.StdEncoding.EncodeToString(v.Marshal())
			if e.Infected {
				r.Infected++
			}
		}
		r.Files = append(r.Files, e)
		progress(i+1, len(files))
	}
	return SignReport(r, key)
}

// RequestReport asks the clone for its signed scan report, calling
// progress as files are checked, and verifies the report before it
// returns it.
func RequestReport(ctx context.Context, h host.Host, clone peer.ID, progress func(done, total int)) ([]byte, *Report, error) {
	s, err := h.NewStream(ctx, clone, ReportProtocol)
	if err != nil {
		return nil, nil, fmt.Errorf("clone %s: %w", clone, err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	br := bufio.NewReader(s)
	for {
		b, _, err := bounded.ReadFrame(br, MaxReportBytes+1)
		if err != nil {
			s.Reset()
			return nil, nil, fmt.Errorf("scan report from %s: %w", clone, err)
		}
		if len(b) == 0 {
			return nil, nil, fmt.Errorf("%w: empty frame", ErrMalformed)
		}
		switch b[0] {
		case tagStep:
			done, total, err := unmarshalStep(b)
			if err != nil {
				return nil, nil, err
			}
			progress(int(done), int(total))
		case tagRefuse:
			return nil, nil, refusalErr(b)
		case tagReport:
			r, err := VerifyReport(b[1:], clone)
			if err != nil {
				return nil, nil, err
			}
			return b[1:], r, nil
		default:
			return nil, nil, fmt.Errorf("%w: frame %q", ErrMalformed, b[0])
		}
	}
}

// CheckRetry is Check, retried with backoff (100 ms doubling to 5 s, at
// most 8 tries) while the provider says it is busy.
func (c *Client) CheckRetry(ctx context.Context, ref boxostore.Ref) (*SignedVerdict, error) {
	wait := 100 * time.Millisecond
	for try := 1; ; try++ {
		v, err := c.Check(ctx, ref)
		if !errors.Is(err, ErrBusy) || try == 8 {
			return v, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
