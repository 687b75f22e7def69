// Package keystore keeps long-lived secrets (libp2p identity keys, user and
// device keys, HPKE keys) and signed records in files.
//
// Files are written atomically (temporary file, fsync, rename) with mode 0600
// inside directories created with mode 0700, so a crash never leaves a
// half-written key behind and other local users cannot read it.
package keystore

import (
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// MaxFileSize caps what ReadFile accepts, so a corrupt or hostile file cannot
// make us allocate without bound.
const MaxFileSize = 64 << 10

var (
	// ErrNotFound means the file does not exist.
	ErrNotFound = errors.New("keystore: file not found")
	// ErrMalformed means the file exists but does not hold a usable key.
	ErrMalformed = errors.New("keystore: malformed key file")
	// ErrTooLarge means the file is bigger than MaxFileSize.
	ErrTooLarge = errors.New("keystore: file too large")
)

// WriteFile atomically replaces path with data (mode 0600), creating the
// parent directory (mode 0700) when needed.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keystore: create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keystore: write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keystore: write %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("keystore: write %s: %w", path, err)
	}
	// The rename is durable only once the directory is: without this a
	// power loss could bring back no identity key, and with a new one the
	// clone's owner certificate would no longer match.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("keystore: sync dir of %s: %w", path, err)
		}
	}
	return nil
}

// ReadFile reads path, mapping a missing file to ErrNotFound and refusing
// files larger than MaxFileSize.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: read %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: read %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s", ErrTooLarge, path)
	}
	return b, nil
}

// DecodePrivKey parses a marshalled libp2p private key and accepts only
// Ed25519 keys, the only kind this project issues.
func DecodePrivKey(b []byte) (crypto.PrivKey, error) {
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: key type %v, want Ed25519", ErrMalformed, k.Type())
	}
	return k, nil
}

// WritePrivKey stores k at path.
func WritePrivKey(path string, k crypto.PrivKey) error {
	b, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return fmt.Errorf("keystore: marshal key: %w", err)
	}
	return WriteFile(path, b)
}

// ReadPrivKey loads the key stored at path.
func ReadPrivKey(path string) (crypto.PrivKey, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := DecodePrivKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreatePrivKey loads the Ed25519 key at path, generating and storing
// one first if the file does not exist. created reports whether it did.
func LoadOrCreatePrivKey(path string) (k crypto.PrivKey, created bool, err error) {
	k, err = ReadPrivKey(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	k, _, err = crypto.GenerateEd25519Key(nil)
	if err != nil {
		return nil, false, fmt.Errorf("keystore: generate key: %w", err)
	}
	if err := WritePrivKey(path, k); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// hpkeKEM is the KEM of every clone key: the hybrid ML-KEM-768 + X25519.
var hpkeKEM = hpke.MLKEM768X25519()

// DecodeHPKEPrivKey parses a serialized ML-KEM-768+X25519 private key and
// returns it with its serialized public key.
func DecodeHPKEPrivKey(b []byte) (priv, pub []byte, err error) {
	k, err := hpkeKEM.NewPrivateKey(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: hpke: %v", ErrMalformed, err)
	}
	return b, k.PublicKey().Bytes(), nil
}

// ReadHPKEKey loads the HPKE private key stored at path.
func ReadHPKEKey(path string) (priv, pub []byte, err error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	priv, pub, err = DecodeHPKEPrivKey(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv, pub, nil
}

// LoadOrCreateHPKEKey loads the HPKE key at path, or stores the key that
// generate returns if there is none yet. generate is injected so that the
// caller decides the serialization (dht.GenerateHPKEKey).
func LoadOrCreateHPKEKey(path string, generate func() (priv, pub []byte, err error)) (priv, pub []byte, created bool, err error) {
	priv, pub, err = ReadHPKEKey(path)
	if err == nil {
		return priv, pub, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, nil, false, err
	}
	priv, _, err = generate()
	if err != nil {
		return nil, nil, false, fmt.Errorf("keystore: generate hpke key: %w", err)
	}
	// Re-derive the public key from the stored bytes so that what we report
	// is exactly what a later load reports.
	priv, pub, err = DecodeHPKEPrivKey(priv)
	if err != nil {
		return nil, nil, false, err
	}
	if err := WriteFile(path, priv); err != nil {
		return nil, nil, false, err
	}
	return priv, pub, true, nil
}
