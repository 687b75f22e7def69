package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clone2clone/c2c/clonehost"
	"github.com/clone2clone/c2c/control"
	"github.com/spf13/cobra"
)

// hostadminFlags are c2c bench hostadmin's flags.
type hostadminFlags struct {
	clones, samples, edits int
	timeout                time.Duration
	keep                   bool
}

// hostadminResult is what c2c bench hostadmin prints.
type hostadminResult struct {
	Clones  int `json:"clones"`  // hosted by the provider before the first enrolment
	Samples int `json:"samples"` // enrolments, and stop/start cycles, measured
	// Enrolment into the running provider: the admin call's return (the
	// clone runs) and the provider listing it published, median and max.
	EnrolP50S          float64 `json:"enrol_p50_s"`
	EnrolMaxS          float64 `json:"enrol_max_s"`
	EnrolPublishedP50S float64 `json:"enrol_published_p50_s"`
	EnrolPublishedMaxS float64 `json:"enrol_published_max_s"`
	// Stop then start of one running clone, until it is published again.
	RestartP50S float64 `json:"restart_p50_s"`
	RestartMaxS float64 `json:"restart_max_s"`
	// Migration of one clone with a document of MigrateEdits acknowledged
	// edits to a second provider (clonehost.Migrate: export, import,
	// start, published there, removed here).
	MigrateEdits int `json:"migrate_edits"`
	// MigrateDocEntries is the document's committed entries when the
	// moved clone first showed it: edits typed while one is in flight
	// are composed into the next, so there are at most as many entries
	// as edits, and the export's size follows the entries.
	MigrateDocEntries uint64 `json:"migrate_doc_entries"`
	// MigratePendingMoved says edits acknowledged but not yet committed
	// moved with the clone; MigrateCommittedS is the time from the stop
	// until the new provider's clone had them all committed.
	MigratePendingMoved bool    `json:"migrate_pending_moved"`
	MigrateCommittedS   float64 `json:"migrate_committed_s"`
	MigrateBytes        int64   `json:"migrate_bytes"`
	MigrateMovedS       float64 `json:"migrate_moved_s"`     // stop here -> running there
	MigratePublishedS   float64 `json:"migrate_published_s"` // stop here -> published there
	MigrateLost         int     `json:"migrate_lost"`        // acknowledged edits missing after it
	EditsS              float64 `json:"edits_s"`             // typing the edits, one acknowledged at a time
}

func newBenchHostadminCmd(g *globals) *cobra.Command {
	f := &hostadminFlags{}
	var cmd *cobra.Command // its context is cancelled by Ctrl-C or SIGTERM
	cmd = newBenchReportCmd(g, "hostadmin [--clones N] [--json]",
		"Admin of hosted clones: enrol into, stop/start on and migrate out of a provider hosting N clones",
		`hostadmin starts one provider process hosting --clones clones (c2c provider
--host-clones on 127.0.0.1, as c2c bench density starts them), a sequencer,
and a second provider with no clone. Then, through the providers' admin
sockets (what c2c provider clones calls):

  enrol    --samples times: a new clone is enrolled (c2c enroll's files)
           into the running first provider; enrol_s is the admin call's
           return (the clone runs), enrol_published_s until the provider
           lists it published;
  restart  --samples times: one hosted clone is stopped and started, until
           it is listed published again;
  migrate  one clone gets a document of --edits edits, each acknowledged by
           its control socket, then moves to the second provider
           (clonehost.Migrate, what c2c provider clones migrate runs); the
           figures are its export's size, the time until it runs there and
           until it is published there, whether edits acknowledged but not
           yet committed moved with it, and the time until the new
           provider's clone has them all committed; migrate_lost counts
           the acknowledged edits missing from its text there (must be 0).

Progress goes to stderr; the processes' logs stay in the bench's temporary
directory, whose path is printed (removed unless --keep).`,
		func() (*hostadminResult, error) { return runHostadminBench(cmd.Context(), g, f) },
		printHostadmin)
	fl := cmd.Flags()
	fl.IntVar(&f.clones, "clones", 200, "clones the first provider hosts before the measurements")
	fl.IntVar(&f.samples, "samples", 5, "enrolments and stop/start cycles measured")
	fl.IntVar(&f.edits, "edits", 1000, "acknowledged edits of the migrated clone's document")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fl.BoolVar(&f.keep, "keep", false, "keep the temporary directory (data dirs and logs)")
	return cmd
}

func printHostadmin(w io.Writer, r *hostadminResult) {
	fmt.Fprintf(w, "a provider hosting %d clones; %d samples; a migrated document of %d edits\n\n", r.Clones, r.Samples, r.MigrateEdits)
	fmt.Fprintf(w, "%-44s %12s %12s\n", "figure", "p50", "max")
	fmt.Fprintf(w, "%-44s %10.3f s %10.3f s\n", "enrol: admin call returned (clone runs)", r.EnrolP50S, r.EnrolMaxS)
	fmt.Fprintf(w, "%-44s %10.3f s %10.3f s\n", "enrol: listed published", r.EnrolPublishedP50S, r.EnrolPublishedMaxS)
	fmt.Fprintf(w, "%-44s %10.3f s %10.3f s\n", "stop + start, until published again", r.RestartP50S, r.RestartMaxS)
	fmt.Fprintf(w, "%-44s %12s\n", "", "value")
	fmt.Fprintf(w, "%-44s %10.1f s\n", fmt.Sprintf("typing %d acknowledged edits", r.MigrateEdits), r.EditsS)
	fmt.Fprintf(w, "%-44s %12d\n", "migrate: the document's committed entries", r.MigrateDocEntries)
	fmt.Fprintf(w, "%-44s %8.1f KiB\n", "migrate: export size", float64(r.MigrateBytes)/1024)
	fmt.Fprintf(w, "%-44s %10.3f s\n", "migrate: stopped here -> running there", r.MigrateMovedS)
	fmt.Fprintf(w, "%-44s %10.3f s\n", "migrate: stopped here -> published there", r.MigratePublishedS)
	fmt.Fprintf(w, "%-44s %12v\n", "migrate: edits not yet committed moved too", r.MigratePendingMoved)
	fmt.Fprintf(w, "%-44s %10.3f s\n", "migrate: stopped here -> all committed there", r.MigrateCommittedS)
	fmt.Fprintf(w, "%-44s %12d\n", "migrate: acknowledged edits lost", r.MigrateLost)
}

// hostadminRun is the density bench's setup (one provider) plus a second,
// empty provider to migrate to.
type hostadminRun struct {
	*densityRun
	hf     *hostadminFlags
	target *child
	dst    *clonehost.AdminClient
	out    *hostadminResult
}

func runHostadminBench(ctx context.Context, g *globals, f *hostadminFlags) (*hostadminResult, error) {
	if f.clones < 2 || f.samples < 1 || f.edits < 1 {
		return nil, errors.New("need --clones >= 2, --samples >= 1 and --edits >= 1")
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	df := &densityFlags{clones: f.clones, providers: 1, cloneDHT: "client", keep: f.keep}
	dr, err := newDensityRun(g, df, "hostadmin")
	if err != nil {
		return nil, err
	}
	r := &hostadminRun{densityRun: dr, hf: f, out: &hostadminResult{Clones: f.clones, Samples: f.samples, MigrateEdits: f.edits}}
	defer r.close()
	for _, step := range []func(context.Context) error{r.enroll, r.start, r.startTarget, r.enrolSamples, r.restartSamples, r.migrate} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return r.out, nil
}

// newDensityRun makes the working directory of bench (c2c-bench-BENCH-*)
// and its command log, for a density run.
func newDensityRun(g *globals, f *densityFlags, bench string) (*densityRun, error) {
	r := &densityRun{name: "c2c bench " + bench, g: g, f: f, res: &densityResult{Clones: f.clones, Providers: f.providers, CloneDHT: f.cloneDHT, CloneMirror: f.cloneMirror, CloneTCP: f.cloneTCP, MemoryLimits: f.memoryLimits}}
	var err error
	if r.bin, err = os.Executable(); err != nil {
		return nil, err
	}
	if r.base, err = os.MkdirTemp("", "c2c-bench-"+bench+"-"); err != nil {
		return nil, err
	}
	r.logDir = filepath.Join(r.base, "logs")
	if err := os.MkdirAll(r.logDir, 0o700); err != nil {
		return nil, err
	}
	if r.cmdLog, err = os.OpenFile(filepath.Join(r.logDir, "commands.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	r.say("working in %s", r.base)
	return r, nil
}

func (r *hostadminRun) close() {
	if r.target != nil {
		r.target.stop(time.Minute)
	}
	if r.dst != nil {
		r.dst.Close()
	}
	r.densityRun.close()
}

// startTarget starts the second provider, hosting nothing, joined to the
// first.
func (r *hostadminRun) startTarget(ctx context.Context) error {
	dir := filepath.Join(r.base, "target")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	boot, err := os.ReadFile(filepath.Join(r.provDir(0), addrsFile))
	if err != nil {
		return err
	}
	c, err := startChild(r.bin, "target", dir, r.logDir, "provider", "--host-clones", "--data", dir, "--listen", benchLoopback,
		"--log-level", r.childLogLevel(), "--bootstrap", strings.Join(strings.Fields(string(boot)), ","))
	if err != nil {
		return err
	}
	r.target = c
	if _, err := c.waitFile(ctx, readyFile, 2*time.Minute); err != nil {
		return err
	}
	r.dst = clonehost.NewAdminClient(filepath.Join(dir, clonehost.AdminSocket))
	_, err = pollFor(ctx, time.Minute, "the second provider's admin socket", func() (struct{}, bool, error) {
		_, err := r.dst.Clones(ctx)
		return struct{}{}, err == nil, nil
	})
	return err
}

// waitPublished polls a's list (every 20 ms, bounded) until name is
// published there.
func waitPublished(ctx context.Context, a *clonehost.AdminClient, name string) error {
	_, err := pollFor(ctx, 2*time.Minute, name+" published", func() (struct{}, bool, error) {
		infos, err := a.Clones(ctx)
		if err != nil {
			return struct{}{}, false, nil
		}
		for _, in := range infos {
			if in.Name == name {
				return struct{}{}, in.Published, nil
			}
		}
		return struct{}{}, false, nil
	})
	return err
}

// enrolSamples enrols --samples new clones into the running provider.
func (r *hostadminRun) enrolSamples(ctx context.Context) error {
	var ran, pub []time.Duration
	for i := range r.hf.samples {
		c, err := r.enrollOne(r.f.clones + i) // provider 0, a directory of its own
		if err != nil {
			return err
		}
		r.clones = append(r.clones, c)
		name := filepath.Base(c.dir)
		t0 := time.Now()
		if err := r.admins[0].Enrol(ctx, name); err != nil {
			return err
		}
		ran = append(ran, time.Since(t0))
		if err := waitPublished(ctx, r.admins[0], name); err != nil {
			return err
		}
		pub = append(pub, time.Since(t0))
	}
	r.out.EnrolP50S, r.out.EnrolMaxS = percentile(ran, 0.5).Seconds(), percentile(ran, 1).Seconds()
	r.out.EnrolPublishedP50S, r.out.EnrolPublishedMaxS = percentile(pub, 0.5).Seconds(), percentile(pub, 1).Seconds()
	r.say("enrolled %d clones into a provider hosting %d: running after %.3f s, published after %.3f s (p50)",
		r.hf.samples, r.f.clones, r.out.EnrolP50S, r.out.EnrolPublishedP50S)
	return nil
}

// restartSamples stops and starts --samples of the first clones.
func (r *hostadminRun) restartSamples(ctx context.Context) error {
	var took []time.Duration
	for i := range r.hf.samples {
		name := filepath.Base(r.clones[i%r.f.clones].dir)
		t0 := time.Now()
		if err := r.admins[0].Stop(ctx, name); err != nil {
			return err
		}
		if err := r.admins[0].Start(ctx, name); err != nil {
			return err
		}
		if err := waitPublished(ctx, r.admins[0], name); err != nil {
			return err
		}
		took = append(took, time.Since(t0))
	}
	r.out.RestartP50S, r.out.RestartMaxS = percentile(took, 0.5).Seconds(), percentile(took, 1).Seconds()
	r.say("stop + start until published: %.3f s (p50)", r.out.RestartP50S)
	return nil
}

// migrate types --edits edits on the first enrolled sample clone and
// moves it to the second provider.
func (r *hostadminRun) migrate(ctx context.Context) error {
	c := r.clones[r.f.clones] // the first clone enrolled while the provider ran
	name := filepath.Base(c.dir)
	ctl := control.NewClient(filepath.Join(c.dir, control.SocketFile))
	defer ctl.Close()
	seqAddr, err := fileAddr(r.seq.dir)
	if err != nil {
		return err
	}
	doc, err := ctl.Create(ctx, seqAddr)
	if err != nil {
		return fmt.Errorf("create the document: %w", err)
	}
	bar := newNamedProgressBar(r.g.stderr, "c2c bench hostadmin")
	t0 := time.Now()
	for i := range r.hf.edits {
		if _, err := ctl.Edit(ctx, doc, control.EditRequest{Kind: control.EditAppend, Text: hostadminToken(i)}); err != nil {
			return fmt.Errorf("edit %d: %w", i, err)
		}
		if i%50 == 49 || i == r.hf.edits-1 {
			bar.step(i+1, r.hf.edits, "edits acknowledged")
		}
	}
	bar.done()
	r.out.EditsS = time.Since(t0).Seconds()
	m0 := time.Now()
	res, err := clonehost.Migrate(ctx, r.admins[0], r.dst, name, name, 2*time.Minute)
	if err != nil {
		return err
	}
	r.out.MigrateBytes, r.out.MigrateMovedS, r.out.MigratePublishedS = res.Bytes, res.Moved.Seconds(), res.Published.Seconds()
	moved := control.NewClient(filepath.Join(r.target.dir, clonesDir, name, control.SocketFile))
	defer moved.Close()
	in, err := moved.Show(ctx, doc)
	if err != nil {
		return fmt.Errorf("the migrated clone's document: %w", err)
	}
	r.out.MigrateDocEntries, r.out.MigratePendingMoved = in.Seq, in.Pending
	if _, err := pollFor(ctx, 2*time.Minute, "the moved clone's edits committed", func() (struct{}, bool, error) {
		in, err := moved.Show(ctx, doc)
		return struct{}{}, err == nil && !in.Pending, nil
	}); err != nil {
		return err
	}
	r.out.MigrateCommittedS = time.Since(m0).Seconds()
	for i := range r.hf.edits {
		if strings.Count(in.Text, hostadminToken(i)) != 1 {
			r.out.MigrateLost++
		}
	}
	r.say("migrated a clone with %d edits: %d bytes, running there after %.3f s, published after %.3f s, %d acknowledged edits lost",
		r.hf.edits, res.Bytes, r.out.MigrateMovedS, r.out.MigratePublishedS, r.out.MigrateLost)
	return nil
}

func hostadminToken(i int) string { return fmt.Sprintf("<m%05d>", i) }
