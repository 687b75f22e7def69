package replication

import (
	"crypto/ed25519"
	"fmt"
	"sort"
)

// Template is a device model's factory state, held by the provider: every
// app's manifest of its initial state, signed by the factory key. A new
// mirror is the template plus the user's data, which a resync moves as the
// chunks that differ from the template.
//
// Encoding (format 0xD1): 0xD1 model version nApps (name nChunks
// chunk[32]...)... sig[64]; names strictly ascending.
type Template struct {
	Model   string
	Version uint64
	Names   []string   // sorted app names
	Apps    []Manifest // their manifests, in that order
	Sig     []byte

	raw []byte
}

// BuildTemplate exports the apps of set into dst and signs their manifests with the factory key.
func BuildTemplate(model string, version uint64, set *AppSet, dst ChunkStore, factory ed25519.PrivateKey) (*Template, error) {
	if err := checkName(model); err != nil {
		return nil, err
	}
	ms, err := set.Export(dst)
	if err != nil {
		return nil, err
	}
	t := &Template{Model: model, Version: version, Names: append([]string(nil), set.Names()...), Apps: ms}
	body := t.encodeBody()
	t.Sig = sign(factory, tagTemplate, body)
	t.raw = append(body, t.Sig...)
	return t, nil
}

func (t *Template) encodeBody() []byte {
	p := []byte{formatTemplate}
	p = putName(p, t.Model)
	p = putUvarint(p, t.Version)
	p = putUvarint(p, uint64(len(t.Names)))
	for i, n := range t.Names {
		p = putManifest(putName(p, n), t.Apps[i])
	}
	return p
}

// Marshal returns the template's encoding.
func (t *Template) Marshal() []byte { return t.raw }

// VerifySig checks the factory signature.
func (t *Template) VerifySig(factory ed25519.PublicKey) error {
	return verifySig(factory, tagTemplate, t.raw[:len(t.raw)-ed25519.SignatureSize], t.Sig, "template "+t.Model)
}

// StateHash returns the state hash of the template's factory state.
func (t *Template) StateHash() Hash {
	roots := make([]Hash, len(t.Apps))
	for i, m := range t.Apps {
		roots[i] = m.Root()
	}
	return StateHash(t.Names, roots)
}

// NewAppSet instantiates the template's apps from reg and imports their
// factory state from src (which must hold the template's chunks).
func (t *Template) NewAppSet(reg *Registry, src ChunkReader) (*AppSet, error) {
	s, err := NewAppSet(reg, t.Names...)
	if err != nil {
		return nil, err
	}
	for i, m := range t.Apps {
		if err := s.importApp(i, m, src); err != nil {
			return nil, fmt.Errorf("template %s: %w", t.Model, err)
		}
	}
	return s, nil
}

// DecodeTemplate decodes and validates a template's structure (not its
// signature). Errors wrap ErrTooLarge, ErrTruncated, ErrNonCanonical or
// ErrMalformed.
func DecodeTemplate(p []byte) (*Template, error) {
	r := open(p, MaxOfferBytes, formatTemplate, "template")
	t := &Template{raw: p}
	t.Model = r.name("model")
	t.Version = r.uvarint("version")
	n := r.count("apps", MaxApps, 2)
	for i := 0; i < n && r.err == nil; i++ {
		t.Names = append(t.Names, r.name("app name"))
		t.Apps = append(t.Apps, r.manifest("manifest"))
	}
	t.Sig = r.sig("template")
	if r.err != nil {
		return nil, r.err
	}
	if n == 0 || !sort.StringsAreSorted(t.Names) {
		return nil, fmt.Errorf("%w: template apps empty or unsorted", ErrMalformed)
	}
	for i := 1; i < n; i++ {
		if t.Names[i] == t.Names[i-1] {
			return nil, fmt.Errorf("%w: template app %q twice", ErrMalformed, t.Names[i])
		}
	}
	return t, nil
}
