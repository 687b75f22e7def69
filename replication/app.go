package replication

import (
	"fmt"
	"slices"
	"sort"
)

// App is a deterministic state machine driven by input events, the same code
// on the device and on the mirror.
//
// Apply must depend only on the app's state and the event (time comes from
// ev.Time; no clock, no randomness, no map iteration order), and must leave
// the state unchanged when it returns an error. Root is the Merkle root of
// the manifest Export would return (Manifest.Root), maintained
// incrementally: an event marks what it touched, Root rehashes only that.
type App interface {
	// Apply applies one input event and returns its outputs. ev and
	// ev.Payload are valid only during the call.
	Apply(ev *Event) ([]Output, error)
	// Root returns the state hash.
	Root() Hash
	// Export writes every chunk of the state to dst and returns the manifest.
	Export(dst ChunkStore) (Manifest, error)
	// Links returns the chunks a state chunk refers to (a DAG below the
	// manifest's leaves), nil for a chunk that refers to none.
	Links(chunk []byte) ([]Hash, error)
	// Import replaces the state by the one m and the chunks in src describe.
	// Afterwards Root() must equal m.Root().
	Import(m Manifest, src ChunkReader) error
}

// Output is something an app asks its host to do or show (app-defined).
type Output struct {
	Kind string
	Data []byte
}

// Factory makes a fresh app in its initial state.
type Factory func() App

// Registry maps app names to factories; a third party adds an app by
// implementing App and registering it. Device and mirror each build their
// app set from a registry.
type Registry struct{ m map[string]Factory }

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]Factory{}} }

// Register adds f under name: 1 to MaxNameBytes of [a-z0-9._/-].
func (r *Registry) Register(name string, f Factory) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, ok := r.m[name]; ok {
		return fmt.Errorf("%w: %q", ErrAppExists, name)
	}
	r.m[name] = f
	return nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func checkName(name string) error {
	if len(name) == 0 || len(name) > MaxNameBytes {
		return fmt.Errorf("%w: name %q is %d bytes, want 1 to %d", ErrMalformed, name, len(name), MaxNameBytes)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-') {
			return fmt.Errorf("%w: name %q has byte %#x", ErrMalformed, name, c)
		}
	}
	return nil
}

// AppSet is one epoch's apps, in the order of their sorted names: a batch
// names an app by its index here.
type AppSet struct {
	names []string
	apps  []App
}

// NewAppSet makes fresh instances of the named apps from reg.
func NewAppSet(reg *Registry, names ...string) (*AppSet, error) {
	names = slices.Clone(names)
	sort.Strings(names)
	if len(names) == 0 || len(names) > MaxApps {
		return nil, fmt.Errorf("%w: %d apps, want 1 to %d", ErrParams, len(names), MaxApps)
	}
	s := &AppSet{names: names}
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			return nil, fmt.Errorf("%w: app %q twice", ErrParams, n)
		}
		f, ok := reg.m[n]
		if !ok {
			return nil, fmt.Errorf("%w: %q is not registered", ErrUnknownApp, n)
		}
		s.apps = append(s.apps, f())
	}
	return s, nil
}

// Names returns the sorted app names (do not modify).
func (s *AppSet) Names() []string { return s.names }

// App returns the app called name.
func (s *AppSet) App(name string) (App, bool) {
	i, ok := s.index(name)
	if !ok {
		return nil, false
	}
	return s.apps[i], true
}

func (s *AppSet) index(name string) (int, bool) {
	i, ok := slices.BinarySearch(s.names, name)
	return i, ok
}

// Roots returns every app's root, in name order.
func (s *AppSet) Roots() []Hash {
	roots := make([]Hash, len(s.apps))
	for i, a := range s.apps {
		roots[i] = a.Root()
	}
	return roots
}

// StateHash returns the combined state hash of the set.
func (s *AppSet) StateHash() Hash { return StateHash(s.names, s.Roots()) }

// Export writes every app's chunks to dst and returns their manifests.
func (s *AppSet) Export(dst ChunkStore) ([]Manifest, error) {
	ms := make([]Manifest, len(s.apps))
	for i, a := range s.apps {
		m, err := a.Export(dst)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", s.names[i], err)
		}
		ms[i] = m
	}
	return ms, nil
}

// importApp imports app i and checks the result against the manifest.
func (s *AppSet) importApp(i int, m Manifest, src ChunkReader) error {
	if err := s.apps[i].Import(m, src); err != nil {
		return fmt.Errorf("import %s: %w", s.names[i], err)
	}
	if s.apps[i].Root() != m.Root() {
		return fmt.Errorf("%w: app %s", ErrImport, s.names[i])
	}
	return nil
}
