package replication

import "fmt"

// Source says where an input event came from.
type Source uint8

const (
	// User: typed, tapped, "send this", "download that" on the device.
	User Source = 1
	// Network: something that reached the device through its clone (a
	// message, a document update, a cached download). The clone relayed it,
	// so the device never sends it back.
	Network Source = 2
)

func (s Source) String() string {
	switch s {
	case User:
		return "user"
	case Network:
		return "network"
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// Event is one input event as an app sees it, on the device and on the
// mirror alike.
type Event struct {
	Device DeviceID
	// Epoch is the mirror epoch: a fixed app set and chain, begun at enrolment.
	Epoch uint64
	// Seq is the event's position among all the device's inputs of the epoch (from 1).
	Seq uint64
	// Time is the device timestamp: the only time an app may read.
	Time   Time
	Source Source
	App    string
	// NetSeq is a network input's seq at the clone (0 for user inputs).
	NetSeq uint64
	// Payload is the event's payload, always resolved.
	Payload []byte
	// Ref is the payload's chunk hash when it traveled as a chunk reference
	// (longer than the inline limit); zero for an inline payload.
	Ref Hash
}

// Input is a user input inside a batch.
type Input struct {
	App  uint32 // index in the epoch's AppSet
	Time Time
	// Payload is the inline payload (nil when Ref is set).
	Payload []byte
	// Ref and Size describe a payload that travels as a chunk.
	Ref  Hash
	Size int
}

// NetUse records that the device consumed a network input.
type NetUse struct {
	NetSeq uint64 // the input's seq at the clone
	After  int    // how many of the batch's user inputs the device consumed before it
	Time   Time   // device time of the consumption
}

// NetInput is a network input the clone relays to its device: the mirror
// numbers and caches it first (Mirror.Relay).
type NetInput struct {
	NetSeq  uint64
	App     string
	Payload []byte
}

// Batch is what the device sends every t_syn_int: its user inputs of
// [Start, End), the positions of the network inputs it consumed meanwhile,
// its state hash after them, and the chain hash of all its batches so far,
// signed by the device key.
type Batch struct {
	Device DeviceID
	Epoch  uint64
	Number uint64 // 1, 2, ... within the epoch
	Start  Time
	End    Time
	// FirstSeq is the position of the batch's first input (user or network).
	FirstSeq  uint64
	User      []Input
	Net       []NetUse
	StateHash Hash
	Chain     Hash
	Sig       []byte

	raw     []byte // the whole encoding
	content []byte // raw up to the chain hash
}

// Len returns the number of inputs, user and network.
func (b *Batch) Len() int { return len(b.User) + len(b.Net) }

// NextSeq returns the position after the batch's last input.
func (b *Batch) NextSeq() uint64 { return b.FirstSeq + uint64(b.Len()) }

// Marshal returns the batch's encoding (set by sealing or decoding; do not modify).
func (b *Batch) Marshal() []byte { return b.raw }

// PayloadBytes returns the total size of the user inputs' payloads.
func (b *Batch) PayloadBytes() int {
	n := 0
	for i := range b.User {
		if b.User[i].Ref.IsZero() {
			n += len(b.User[i].Payload)
		} else {
			n += b.User[i].Size
		}
	}
	return n
}
