package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/clone2clone/c2c/control"
	"github.com/clone2clone/c2c/docsync"
	"github.com/clone2clone/c2c/docsync/netproto"
	"github.com/clone2clone/c2c/internal/keystore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

func docEvidenceCmd(g *globals, f *docFlags) *cobra.Command {
	var out, kind, seq string
	var all bool
	cmd := &cobra.Command{
		Use:   "evidence DOC --out FILE [--kind fork|tamper|forged-seq] [--sequencer KEY] [--all]",
		Short: "Export the evidence the clone keeps against a document's sequencers",
		Long: `evidence writes transferable evidence against the document's sequencer to
FILE: a fork (two heads it signed for one seq), a tampered entry (an
envelope failing its author's signature that it chained and signed) or a
forged seq (an entry it chained directly after an earlier seq). Anyone can
check the file with c2c verify-evidence, offline.

The clone keeps one item per kind and sequencer: a document that recovered
onto a new sequencer keeps the evidence against the one it left, and if
the new one misbehaves too, the evidence against it as well.

With no --kind and no --sequencer, the first kept is written (forks
first, the one against the sequencer the document is on before those it
recovered from, then tamper, then forged-seq); the command lists what
else there is. --kind and --sequencer (a peer ID or an Ed25519 key in hex)
choose among them. --all writes every item chosen, one file each, named
FILE.<kind>.<first 16 hex digits of the sequencer key>, e.g.
  c2c doc evidence DOC --all --out proof
  c2c verify-evidence proof.*
With --json it prints the list instead of text (the files are written all
the same).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out FILE is required")
			}
			var want []byte
			if seq != "" {
				pub, err := parseSequencerKey(seq)
				if err != nil {
					return err
				}
				want = pub
			}
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				items, err := c.Evidence(ctx, args[0])
				if err != nil {
					return nil, err
				}
				var picked []control.EvidenceItem
				for _, it := range items {
					if (kind == "" || it.Kind == kind) && (want == nil || it.Sequencer == hex.EncodeToString(want)) {
						picked = append(picked, it)
					}
				}
				if len(picked) == 0 {
					what := "no evidence"
					if kind != "" {
						what = "no " + kind + " evidence"
					}
					if want != nil {
						return nil, fmt.Errorf("the clone keeps %s against sequencer %s for this document", what, seq)
					}
					return nil, fmt.Errorf("the clone keeps %s against this document's sequencers", what)
				}
				if !all {
					picked = picked[:1]
				}
				e := evidenceExport{All: items}
				for _, it := range picked {
					file := out
					if all {
						file = fmt.Sprintf("%s.%s.%.16s", out, it.Kind, it.Sequencer)
					}
					if err := keystore.WriteFile(file, it.Data); err != nil {
						return nil, err
					}
					e.Written = append(e.Written, evidenceFile{File: file, EvidenceItem: it})
				}
				return e, nil
			}, func(w io.Writer, v any) {
				e := v.(evidenceExport)
				for _, it := range e.Written {
					fmt.Fprintf(w, "wrote %s evidence against sequencer %s (seq %d, %d bytes) to %s\n",
						it.Kind, sequencerName(it.Sequencer), it.Seq, len(it.Data), it.File)
				}
				for _, it := range e.All {
					if !slices.ContainsFunc(e.Written, func(x evidenceFile) bool { return x.Kind == it.Kind && x.Sequencer == it.Sequencer }) {
						fmt.Fprintf(w, "also kept: %s evidence against sequencer %s (seq %d): --kind %s --sequencer %s\n",
							it.Kind, sequencerName(it.Sequencer), it.Seq, it.Kind, it.Sequencer)
					}
				}
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the file to write the evidence to (with --all: the prefix of the files)")
	cmd.Flags().StringVar(&kind, "kind", "", "fork, tamper or forged-seq (default: any)")
	cmd.Flags().StringVar(&seq, "sequencer", "", "only evidence against this sequencer (peer ID or Ed25519 key hex; default: any)")
	cmd.Flags().BoolVar(&all, "all", false, "write every item chosen, one file each (FILE.<kind>.<key prefix>)")
	return cmd
}

// sequencerName is the peer ID of a hex sequencer key (the hex if it is
// not one).
func sequencerName(keyHex string) string {
	if b, err := hex.DecodeString(keyHex); err == nil {
		if id, err := netproto.PeerOf(b); err == nil {
			return id.String()
		}
	}
	return keyHex
}

type evidenceExport struct {
	Written []evidenceFile         `json:"written"`
	All     []control.EvidenceItem `json:"all"`
}

// evidenceFile is an item written and the file it went to.
type evidenceFile struct {
	File string `json:"file"`
	control.EvidenceItem
}

func newVerifyEvidenceCmd(g *globals) *cobra.Command {
	var seq string
	cmd := &cobra.Command{
		Use:   "verify-evidence FILE... [--sequencer KEY]",
		Short: "Check evidence against a sequencer offline, trusting no one",
		Long: `verify-evidence checks files written by c2c doc evidence, each on its own.
It needs nothing but the file: the file carries the sequencer's public
key, the heads it signed and, for a tampered entry or a forged seq, the
envelope (which names its author's public key). It checks every signature
and hash and prints exactly what the sequencer signed and what that
proves.

A file says whom it implicates (its key). To check that it is the
sequencer you mean, give --sequencer: the sequencer's peer ID (from the
document's "c2c doc show") or its Ed25519 public key in hex. Files of a
document that recovered onto another sequencer implicate different
sequencers: check those without --sequencer, or one sequencer at a time.

Exit status: 0 if every file proves the misbehaviour, 1 if one does not
(a tampered or corrupt file is refused; the others are still checked).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var want ed25519.PublicKey
			if seq != "" {
				pub, err := parseSequencerKey(seq)
				if err != nil {
					return err
				}
				want = pub
			}
			var refused []string
			for i, file := range args {
				if len(args) > 1 {
					if i > 0 {
						fmt.Fprintln(g.stdout)
					}
					fmt.Fprintf(g.stdout, "%s:\n", file)
				}
				if err := verifyEvidenceFile(g.stdout, file, want); err != nil {
					if len(args) == 1 {
						return err
					}
					fmt.Fprintln(g.stderr, err)
					refused = append(refused, file)
				}
			}
			if len(refused) > 0 {
				return fmt.Errorf("REFUSED: %d of %d files: %s", len(refused), len(args), strings.Join(refused, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&seq, "sequencer", "", "require the evidence to implicate this sequencer (peer ID or Ed25519 key hex)")
	return cmd
}

// verifyEvidenceFile checks one evidence file (against want, if set) and
// prints what it proves.
func verifyEvidenceFile(w io.Writer, file string, want ed25519.PublicKey) error {
	b, err := readBounded(file, docsync.MaxEvidenceBytes)
	if err != nil {
		return err
	}
	ev, err := docsync.DecodeEvidence(b)
	if err != nil {
		return fmt.Errorf("REFUSED: %s: %w", file, err)
	}
	if want != nil {
		err = ev.VerifyFor(want)
	} else {
		err = ev.Verify()
	}
	if err != nil {
		return fmt.Errorf("REFUSED: %s: %w", file, err)
	}
	if id, err := netproto.PeerOf(ev.Sequencer); err == nil {
		fmt.Fprintf(w, "sequencer peer: %s\n", id)
	}
	fmt.Fprint(w, ev.Describe())
	fmt.Fprintf(w, "VALID: this file proves %s by the sequencer above\n", ev.Kind)
	return nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("REFUSED: %s is larger than %d bytes: no evidence is", path, limit)
	}
	return b, nil
}

// parseSequencerKey reads a peer ID (Ed25519) or a hex Ed25519 public key.
func parseSequencerKey(s string) (ed25519.PublicKey, error) {
	if b, err := hex.DecodeString(strings.TrimSpace(s)); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	id, err := peer.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("--sequencer %q: neither a peer ID nor a 64-hex-digit key: %w", s, err)
	}
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("--sequencer %q: %w", s, err)
	}
	raw, err := pk.Raw()
	if err != nil || pk.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("--sequencer %q: not an Ed25519 peer ID", s)
	}
	return ed25519.PublicKey(raw), nil
}
