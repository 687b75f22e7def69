package undo

import (
	"errors"
	"testing"

	"github.com/clone2clone/c2c/docsync/ot"
)

func mustPatch(t *testing.T, text string, pos, del int, ins string) ot.Op {
	t.Helper()
	op, err := ot.FromPatch(len([]rune(text)), pos, del, ins)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func apply(t *testing.T, text string, op ot.Op) string {
	t.Helper()
	s, err := ot.ApplyString(text, op)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// local applies a patch as the stack's own edit.
func local(t *testing.T, s *Stack, text string, pos, del int, ins string) string {
	t.Helper()
	op := mustPatch(t, text, pos, del, ins)
	if err := s.Local(op, text); err != nil {
		t.Fatal(err)
	}
	return apply(t, text, op)
}

func remote(t *testing.T, s *Stack, text string, pos, del int, ins string) string {
	t.Helper()
	op := mustPatch(t, text, pos, del, ins)
	if err := s.Remote(op); err != nil {
		t.Fatal(err)
	}
	return apply(t, text, op)
}

func undo(t *testing.T, s *Stack, text string) string {
	t.Helper()
	op, err := s.Undo()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Undone(op, text); err != nil {
		t.Fatal(err)
	}
	return apply(t, text, op)
}

func redo(t *testing.T, s *Stack, text string) string {
	t.Helper()
	op, err := s.Redo()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Redone(op, text); err != nil {
		t.Fatal(err)
	}
	return apply(t, text, op)
}

func TestUndoKeepsOthersText(t *testing.T) {
	s := New(0)
	text := local(t, s, "", 0, 0, "héllo") // héllo
	text = remote(t, s, text, 2, 0, "XY")  // héXYllo: inside our insert
	text = remote(t, s, text, 0, 0, "¡")   // ¡héXYllo
	text = local(t, s, text, 8, 0, " 🌍")   // ¡héXYllo 🌍
	if text = undo(t, s, text); text != "¡héXYllo" {
		t.Fatalf("first undo: %q", text)
	}
	if text = undo(t, s, text); text != "¡XY" {
		t.Fatalf("second undo: %q", text)
	}
	if _, err := s.Undo(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("third undo: %v", err)
	}
	text = remote(t, s, text, 3, 0, "!") // ¡XY!
	if text = redo(t, s, text); text != "¡héXYllo!" {
		t.Fatalf("redo: %q", text)
	}
	if text = redo(t, s, text); text != "¡héXYllo 🌍!" {
		t.Fatalf("second redo: %q", text)
	}
	if text = undo(t, s, text); text != "¡héXYllo!" {
		t.Fatalf("undo after redo: %q", text)
	}
}

func TestUndoOfDeleteRestores(t *testing.T) {
	s := New(0)
	text := local(t, s, "abcdef", 1, 3, "") // aef
	text = remote(t, s, text, 1, 0, "Z")    // aZef
	if text = undo(t, s, text); text != "abcdZef" && text != "aZbcdef" {
		t.Fatalf("undo: %q", text)
	}
}

func TestLocalClearsRedo(t *testing.T) {
	s := New(0)
	text := local(t, s, "", 0, 0, "a")
	text = undo(t, s, text)
	if !s.CanRedo() {
		t.Fatal("no redo after undo")
	}
	local(t, s, text, 0, 0, "b")
	if s.CanRedo() {
		t.Fatal("redo kept after a new edit")
	}
}

func TestDepthForgetsOldest(t *testing.T) {
	s := New(2)
	text := ""
	for _, c := range []string{"a", "b", "c"} {
		text = local(t, s, text, len(text), 0, c)
	}
	text = undo(t, s, text)
	text = undo(t, s, text)
	if text != "a" || s.CanUndo() {
		t.Fatalf("after two undos: %q, can undo %v", text, s.CanUndo())
	}
}

func TestJoinMakesOneStep(t *testing.T) {
	s := New(0)
	text := local(t, s, "", 0, 0, "ab")
	op := mustPatch(t, text, 2, 0, "cd")
	if err := s.Join(op, text); err != nil {
		t.Fatal(err)
	}
	text = apply(t, text, op)
	text = remote(t, s, text, 2, 0, "X") // abXcd
	if text = undo(t, s, text); text != "X" || s.CanUndo() {
		t.Fatalf("undo of a joined step: %q, can undo %v", text, s.CanUndo())
	}
	if text = redo(t, s, text); text != "abXcd" {
		t.Fatalf("redo: %q", text)
	}
}
