package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
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
	var out, kind string
	cmd := &cobra.Command{
		Use:   "evidence DOC --out FILE [--kind fork|tamper|forged-seq]",
		Short: "Export the evidence the clone keeps against a document's sequencer",
		Long: `evidence writes one piece of transferable evidence against the document's
sequencer to FILE: a fork (two heads it signed for one seq), a tampered
entry (an envelope failing its author's signature that it chained and
signed) or a forged seq (an entry it chained directly after an earlier
seq). Anyone can check the file with c2c verify-evidence, offline.

With no --kind, the first kept is written (fork, tamper, forged-seq); the
command lists what else there is. With --json it prints the list instead
of text (the file is written all the same).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out FILE is required")
			}
			return f.call(cmd, g, func(ctx context.Context, c *control.Client) (any, error) {
				items, err := c.Evidence(ctx, args[0])
				if err != nil {
					return nil, err
				}
				pick := -1
				for i, it := range items {
					if kind == "" || it.Kind == kind {
						pick = i
						break
					}
				}
				if pick < 0 {
					if kind == "" {
						return nil, errors.New("the clone keeps no evidence against this document's sequencer")
					}
					return nil, fmt.Errorf("the clone keeps no %s evidence against this document's sequencer", kind)
				}
				if err := keystore.WriteFile(out, items[pick].Data); err != nil {
					return nil, err
				}
				return evidenceExport{File: out, Written: items[pick], All: items}, nil
			}, func(w io.Writer, v any) {
				e := v.(evidenceExport)
				fmt.Fprintf(w, "wrote %s evidence (seq %d, %d bytes) to %s\n", e.Written.Kind, e.Written.Seq, len(e.Written.Data), e.File)
				for _, it := range e.All {
					if it.Kind != e.Written.Kind {
						fmt.Fprintf(w, "also kept: %s evidence (seq %d): --kind %s\n", it.Kind, it.Seq, it.Kind)
					}
				}
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the file to write the evidence to")
	cmd.Flags().StringVar(&kind, "kind", "", "fork, tamper or forged-seq (default: the first kept)")
	return cmd
}

type evidenceExport struct {
	File    string                 `json:"file"`
	Written control.EvidenceItem   `json:"written"`
	All     []control.EvidenceItem `json:"all"`
}

func newVerifyEvidenceCmd(g *globals) *cobra.Command {
	var seq string
	cmd := &cobra.Command{
		Use:   "verify-evidence FILE [--sequencer KEY]",
		Short: "Check evidence against a sequencer offline, trusting no one",
		Long: `verify-evidence checks a file written by c2c doc evidence. It needs nothing
but the file: the file carries the sequencer's public key, the heads it
signed and, for a tampered entry or a forged seq, the envelope (which
names its author's public key). It checks every signature and hash and
prints exactly what the sequencer signed and what that proves.

The file says whom it implicates (its key). To check that it is the
sequencer you mean, give --sequencer: the sequencer's peer ID (from the
document's "c2c doc show") or its Ed25519 public key in hex.

Exit status: 0 if the evidence proves the misbehaviour, 1 if it does not
(a tampered or corrupt file is refused).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readBounded(args[0], docsync.MaxEvidenceBytes)
			if err != nil {
				return err
			}
			ev, err := docsync.DecodeEvidence(b)
			if err != nil {
				return fmt.Errorf("REFUSED: %s: %w", args[0], err)
			}
			if seq != "" {
				pub, err := parseSequencerKey(seq)
				if err != nil {
					return err
				}
				err = ev.VerifyFor(pub)
			} else {
				err = ev.Verify()
			}
			if err != nil {
				return fmt.Errorf("REFUSED: %s: %w", args[0], err)
			}
			if id, err := netproto.PeerOf(ev.Sequencer); err == nil {
				fmt.Fprintf(g.stdout, "sequencer peer: %s\n", id)
			}
			fmt.Fprint(g.stdout, ev.Describe())
			fmt.Fprintf(g.stdout, "VALID: this file proves %s by the sequencer above\n", ev.Kind)
			return nil
		},
	}
	cmd.Flags().StringVar(&seq, "sequencer", "", "require the evidence to implicate this sequencer (peer ID or Ed25519 key hex)")
	return cmd
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
