package deliver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/clone2clone/c2c/internal/bounded"
)

// Protocol is the clone-to-clone delivery protocol.
const Protocol = "/c2c/mirror/deliver/1.0.0"

// Caps of what a recipient reads before and after authentication.
const (
	MaxCertBytes  = 4 << 10
	MaxReasonSize = 512
)

// Errors: a recipient's refusals (a sender sees the same sentinel, wrapped
// in a *Refusal), and the sender's own.
var (
	// ErrBadCert: the sender's owner certificate does not decode or verify,
	// or names another clone than the one on the stream (a certificate of
	// another user's clone).
	ErrBadCert = errors.New("deliver: sender certificate refused")
	// ErrForgedSender: the message claims a sender other than the certificate's user.
	ErrForgedSender = errors.New("deliver: message from another user than the certificate's")
	// ErrNotRecipient: the message is addressed to another user or device.
	ErrNotRecipient = errors.New("deliver: message addressed elsewhere")
	// ErrTooLarge: a frame over its cap.
	ErrTooLarge = errors.New("deliver: frame too large")
	// ErrMalformed: a frame or message that does not decode.
	ErrMalformed = errors.New("deliver: malformed frame")
	// ErrUnavailable: the recipient could not take the message now (its
	// mirror refused or stopped); the sender retries.
	ErrUnavailable = errors.New("deliver: recipient unavailable")
	// ErrClosed: the service stopped.
	ErrClosed = errors.New("deliver: closed")
	// ErrRateLimited: the sending clone, or its user, is over its quota of
	// messages or bytes; the sender retries later (answered as unavailable).
	ErrRateLimited = errors.New("deliver: sender over its quota")
)

// Status codes of a recipient's answer.
const (
	statusOK byte = iota
	statusDuplicate
	statusBadCert
	statusForged
	statusNotRecipient
	statusTooLarge
	statusMalformed
	statusUnavailable
)

var statusErr = map[byte]error{statusBadCert: ErrBadCert, statusForged: ErrForgedSender,
	statusNotRecipient: ErrNotRecipient, statusTooLarge: ErrTooLarge, statusMalformed: ErrMalformed,
	statusUnavailable: ErrUnavailable}

func codeOf(err error) byte {
	for c, e := range statusErr {
		if errors.Is(err, e) {
			return c
		}
	}
	return statusUnavailable
}

// Refusal is a recipient's refusal as the sender sees it; it wraps the
// sentinel of its code.
type Refusal struct {
	Code   byte
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("deliver: refused (code %d): %s", r.Code, r.Reason)
}

// Unwrap makes errors.Is(err, ErrForgedSender) etc. hold.
func (r *Refusal) Unwrap() error {
	if e, ok := statusErr[r.Code]; ok {
		return e
	}
	return ErrMalformed
}

// Permanent reports whether retrying cannot help.
func (r *Refusal) Permanent() bool { return r.Code != statusUnavailable }

func writeFrame(w io.Writer, b []byte) error {
	if _, err := w.Write(binary.AppendUvarint(nil, uint64(len(b)))); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame of at most max bytes: the announced length is
// checked before anything is allocated, and the body grows as it arrives.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("%w: length: %w", ErrMalformed, err)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, cap %d", ErrTooLarge, n, max)
	}
	b, err := bounded.ReadFull(r, int(n))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, nil
}

// answer: status byte, then a frame with the reason.
func writeAnswer(w io.Writer, code byte, reason string) error {
	if len(reason) > MaxReasonSize {
		reason = reason[:MaxReasonSize]
	}
	if _, err := w.Write([]byte{code}); err != nil {
		return err
	}
	return writeFrame(w, []byte(reason))
}

// readAnswer returns nil for OK and duplicate (and whether it was a
// duplicate), else a *Refusal.
func readAnswer(r *bufio.Reader) (dup bool, err error) {
	code, err := r.ReadByte()
	if err != nil {
		return false, fmt.Errorf("%w: answer: %w", ErrUnavailable, err)
	}
	reason, err := readFrame(r, MaxReasonSize)
	if err != nil {
		return false, err
	}
	switch code {
	case statusOK:
		return false, nil
	case statusDuplicate:
		return true, nil
	}
	return false, &Refusal{Code: code, Reason: string(reason)}
}
