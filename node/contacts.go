package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clone2clone/c2c/dht"
	"github.com/clone2clone/c2c/docsync/cloneservice"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ContactsFile, in a clone's data dir, lists the users whose invitations
// the clone accepts: one user ID per line; '#' starts a comment.
const ContactsFile = "contacts"

// Contacts is a clone's contact list, kept in ContactsFile. It rereads the
// file when it changed, so `c2c contact add` takes effect on a running
// clone. Safe for concurrent use.
type Contacts struct {
	path string

	mu    sync.Mutex
	mtime time.Time
	size  int64
	set   map[peer.ID]bool
}

// OpenContacts returns the contact list at path (a missing file is an
// empty list).
func OpenContacts(path string) *Contacts { return &Contacts{path: path, set: map[peer.ID]bool{}} }

// Has reports whether user is a contact.
func (c *Contacts) Has(user peer.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.reload()
	return c.set[user]
}

// List returns the contacts, sorted.
func (c *Contacts) List() ([]peer.ID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reload(); err != nil {
		return nil, err
	}
	out := make([]peer.ID, 0, len(c.set))
	for u := range c.set {
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}

// Add adds users and rewrites the file atomically.
func (c *Contacts) Add(users ...peer.ID) error {
	return c.update(func(set map[peer.ID]bool) {
		for _, u := range users {
			set[u] = true
		}
	})
}

// Remove removes users and rewrites the file atomically.
func (c *Contacts) Remove(users ...peer.ID) error {
	return c.update(func(set map[peer.ID]bool) {
		for _, u := range users {
			delete(set, u)
		}
	})
}

func (c *Contacts) update(f func(map[peer.ID]bool)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.reload(); err != nil {
		return err
	}
	f(c.set)
	var b bytes.Buffer
	b.WriteString("# users whose invitations this clone accepts (c2c contact add|rm|ls)\n")
	ids := make([]string, 0, len(c.set))
	for u := range c.set {
		ids = append(ids, u.String())
	}
	slices.Sort(ids)
	for _, id := range ids {
		b.WriteString(id + "\n")
	}
	if err := keystore.WriteFile(c.path, b.Bytes()); err != nil {
		return err
	}
	c.mtime = time.Time{} // reread on next use
	return c.reload()
}

// reload rereads the file if its size or mtime changed (lock held).
func (c *Contacts) reload() error {
	fi, err := os.Stat(c.path)
	if errors.Is(err, os.ErrNotExist) {
		c.set, c.mtime, c.size = map[peer.ID]bool{}, time.Time{}, 0
		return nil
	}
	if err != nil {
		return err
	}
	if fi.ModTime().Equal(c.mtime) && fi.Size() == c.size && !c.mtime.IsZero() {
		return nil
	}
	if fi.Size() > maxContactsBytes {
		return fmt.Errorf("node: %s is %d bytes, cap %d", c.path, fi.Size(), maxContactsBytes)
	}
	data, err := os.ReadFile(c.path)
	if err != nil {
		return err
	}
	set, err := parseContacts(data)
	if err != nil {
		return fmt.Errorf("node: %s: %w", c.path, err)
	}
	c.set, c.mtime, c.size = set, fi.ModTime(), fi.Size()
	return nil
}

const maxContactsBytes = 4 << 20

func parseContacts(data []byte) (map[peer.ID]bool, error) {
	set := map[peer.ID]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		id, err := peer.Decode(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %q is not a user ID: %w", n, line, err)
		}
		set[id] = true
	}
	return set, sc.Err()
}

// ContactPolicy is the invite policy `c2c clone` runs: accept an invitation
// from a member of a document this clone holds, or from a clone whose owner
// certificate (sent with the invitation, verified here) names a user that
// is in contacts or is this clone's own user.
func ContactPolicy(contacts *Contacts, own peer.ID, now func() time.Time) cloneservice.InvitePolicy {
	return func(from cloneservice.Inviter, _ *netproto.Invitation) bool {
		if from.Member {
			return true
		}
		if len(from.Credential) == 0 {
			return false
		}
		cert, err := dht.UnmarshalOwnerCert(from.Credential)
		if err != nil || cert.Clone != from.Peer || cert.Verify(now()) != nil {
			return false
		}
		return cert.User == own || contacts.Has(cert.User)
	}
}
