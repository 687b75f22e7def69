// Package presence is CloneDoc's presence: members' carets and selections,
// ephemeral and never sequenced.
//
// This file holds what every side agrees on (the caret colour of a member).
package presence
