package downloader

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/clone2clone/c2c/internal/bounded"
	"github.com/clone2clone/c2c/replication/journal"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ProgressProtocol is how a device asks its clone where a download stands:
// the device sends a frame with the download's 32-byte ID, the clone
// answers one frame (EncodeReport) and closes. Only the clone's own
// device is answered.
const ProgressProtocol = "/c2c/downloads/progress/1.0.0"

// Frame caps of the progress protocol.
const (
	maxReportBytes = 1024
	maxReportErr   = 512 // with room for the numbers and the state
	progressWait   = 10 * time.Second
)

// EncodeReport is a Report's frame body: 'g' done total attempts state err.
// The error is cut to maxReportErr bytes: an interrupted request's error
// quotes the URL (up to downloads.MaxURLBytes), and a frame over
// maxReportBytes would be refused by the device instead of shown.
func EncodeReport(r Report) []byte {
	if len(r.Err) > maxReportErr {
		r.Err = r.Err[:maxReportErr]
	}
	return journal.NewRec('g').I(r.Done).I(r.Total).U(uint64(r.Attempts)).B([]byte(r.State)).B([]byte(r.Err))
}

// DecodeReport decodes and checks a Report frame body.
func DecodeReport(b []byte) (Report, error) {
	if len(b) > maxReportBytes {
		return Report{}, fmt.Errorf("downloader: report of %d bytes", len(b))
	}
	k, r := journal.Read(b)
	rep := Report{Done: r.I(), Total: r.I()}
	n := r.U()
	rep.State, rep.Err = string(r.B()), string(r.B())
	if err := r.End(); err != nil || k != 'g' || rep.Done < 0 || rep.Total < -1 || n > 1<<20 {
		return Report{}, fmt.Errorf("downloader: report: %v", err)
	}
	rep.Attempts = int(n)
	return rep, nil
}

// ServeProgress answers device's progress questions on h.
func (s *Service) ServeProgress(h host.Host, device peer.ID) {
	h.SetStreamHandler(ProgressProtocol, func(st network.Stream) {
		defer st.Close()
		if st.Conn().RemotePeer() != device {
			_ = st.Reset()
			return
		}
		_ = st.SetDeadline(time.Now().Add(progressWait))
		b, _, err := bounded.ReadFrame(bufio.NewReader(st), 32)
		if err != nil || len(b) != 32 {
			_ = st.Reset()
			return
		}
		rep, ok := s.Progress([32]byte(b))
		if !ok {
			rep = Report{Total: -1, State: "unknown"}
		}
		_, _ = bounded.WriteFrame(st, EncodeReport(rep))
	})
}

// StopProgress stops answering.
func (s *Service) StopProgress(h host.Host) { h.RemoveStreamHandler(ProgressProtocol) }

// AskProgress asks the clone where download id stands.
func AskProgress(ctx context.Context, h host.Host, clone peer.ID, id [32]byte) (Report, error) {
	ctx, cancel := context.WithTimeout(ctx, progressWait)
	defer cancel()
	st, err := h.NewStream(ctx, clone, ProgressProtocol)
	if err != nil {
		return Report{}, err
	}
	defer st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if _, err := bounded.WriteFrame(st, id[:]); err != nil {
		return Report{}, err
	}
	_ = st.CloseWrite()
	b, _, err := bounded.ReadFrame(bufio.NewReader(st), maxReportBytes)
	if err != nil {
		return Report{}, err
	}
	return DecodeReport(b)
}
