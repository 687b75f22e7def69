package docsim

import (
	"bufio"
	"crypto/ed25519"
	"fmt"
	"strconv"
	"strings"

	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/ot"
	"github.com/clone2clone/c2c/docsync/sequencer"
)

// RunScript runs a scenario script (one command per line, # comments) on a
// fresh honest network seeded with seed, in the spirit of etcd raft's
// interaction tests. Commands:
//
//	doc N                  create a document with N members (clone 0 is the admin)
//	insert C POS "TEXT"    clone C inserts TEXT at code point POS
//	delete C POS N         clone C deletes N code points at POS
//	hold C / release C     park / deliver the messages to clone C (a partition)
//	settle                 deliver until the network is quiet
//	add ROLE               the admin adds a new clone (reader, writer, admin) and settles
//	remove C               the admin removes clone C
//	role C ROLE            the admin changes clone C's role
//	expect-text C "TEXT"   clone C's local text
//	expect-converged       members agree on text and chain head with the sequencer
//	expect-locked C        clone C holds no key for the current epoch
func RunScript(seed uint64, script string) (*Result, error) {
	p := DefaultNetParams()
	p.DupProb = 0.1
	n := NewNet(seed, p, func(doc docsync.DocID, key ed25519.PrivateKey) sequencer.Node {
		return sequencer.NewMemory(doc, key)
	})
	res := &Result{Net: n, Removed: map[int]bool{}}
	sc := bufio.NewScanner(strings.NewReader(script))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if err := res.command(text); err != nil {
			return res, fmt.Errorf("line %d %q: %w", line, text, err)
		}
	}
	return res, nil
}

func (r *Result) command(line string) error {
	n := r.Net
	f := strings.Fields(line)
	arg := func(i int) (int, error) {
		if i >= len(f) {
			return 0, fmt.Errorf("missing argument %d", i)
		}
		return strconv.Atoi(f[i])
	}
	quoted := func() (string, error) {
		i := strings.Index(line, `"`)
		if i < 0 {
			return "", fmt.Errorf("missing quoted text")
		}
		return strconv.Unquote(line[i:])
	}
	clone := func() (*Clone, error) {
		i, err := arg(1)
		if err != nil || i < 0 || i >= len(n.Clones) {
			return nil, fmt.Errorf("bad clone %v", f[1:])
		}
		return n.Clones[i], nil
	}
	role := func(s string) (docsync.Role, error) {
		for _, r := range []docsync.Role{docsync.RoleReader, docsync.RoleWriter, docsync.RoleAdmin} {
			if r.String() == s {
				return r, nil
			}
		}
		return 0, fmt.Errorf("unknown role %q", s)
	}
	switch f[0] {
	case "doc":
		k, err := arg(1)
		if err != nil {
			return err
		}
		admin, err := n.AddClone(true)
		if err != nil {
			return err
		}
		for range k - 1 {
			if err := n.invite(admin, docsync.RoleWriter); err != nil {
				return err
			}
		}
		return n.Settle()
	case "insert", "delete":
		c, err := clone()
		if err != nil {
			return err
		}
		pos, err := arg(2)
		if err != nil {
			return err
		}
		var op ot.Op
		if f[0] == "insert" {
			s, err := quoted()
			if err != nil {
				return err
			}
			op, err = ot.FromPatch(c.Replica.LocalLen(), pos, 0, s)
		} else {
			k, err2 := arg(3)
			if err2 != nil {
				return err2
			}
			op, err = ot.FromPatch(c.Replica.LocalLen(), pos, k, "")
		}
		if err != nil {
			return err
		}
		if err := c.Replica.Propose(op); err != nil {
			return err
		}
		n.Drain(c)
	case "hold", "release":
		c, err := clone()
		if err != nil {
			return err
		}
		if f[0] == "hold" {
			n.Hold(c.Index)
		} else {
			n.Release(c.Index)
		}
	case "settle":
		return n.Settle()
	case "add":
		if len(f) < 2 {
			return fmt.Errorf("missing role")
		}
		ro, err := role(f[1])
		if err != nil {
			return err
		}
		if err := n.invite(n.Clones[0], ro); err != nil {
			return err
		}
		return n.Settle()
	case "remove", "role":
		c, err := clone()
		if err != nil {
			return err
		}
		admin := n.Clones[0]
		if f[0] == "remove" {
			r.Removed[c.Index] = true
			err = admin.Replica.RemoveMember(c.Replica.ID())
		} else {
			ro, rerr := role(f[len(f)-1])
			if rerr != nil {
				return rerr
			}
			err = admin.Replica.ChangeRole(c.Replica.ID(), ro)
		}
		n.Drain(admin)
		return err
	case "expect-text":
		c, err := clone()
		if err != nil {
			return err
		}
		want, err := quoted()
		if err != nil {
			return err
		}
		if got := c.Replica.Text(); got != want {
			return fmt.Errorf("clone %d text %q, want %q", c.Index, got, want)
		}
	case "expect-converged":
		return r.CheckConverged()
	case "expect-locked":
		c, err := clone()
		if err != nil {
			return err
		}
		if e := c.Replica.Log().Membership().Epoch(); c.Replica.HasEpochKey(e) {
			return fmt.Errorf("clone %d holds the epoch %d key", c.Index, e)
		}
	default:
		return fmt.Errorf("unknown command %q", f[0])
	}
	return nil
}
