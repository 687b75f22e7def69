// Package cli holds what the c2c commands (cmd/c2c and cmd/c2c-sim) share:
// flags that can also be set through C2C_<FLAG> environment variables, the
// logger that --log-level selects, the progress bar of transfers and scans,
// and the --pprof endpoints.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// Main runs a command's run function with the process's arguments and
// standard streams, under a context that SIGINT and SIGTERM cancel, and
// exits with the code it returns.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// EnvName is the environment variable of a flag: "log-level" -> C2C_LOG_LEVEL.
func EnvName(flag string) string {
	return "C2C_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// ApplyEnv sets every flag of fs not given on the command line from its
// C2C_* variable, if set. A flag set this way counts as Changed, as if it
// had been given on the command line.
func ApplyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		v, ok := os.LookupEnv(EnvName(f.Name))
		if !ok {
			return
		}
		if setErr := fs.Set(f.Name, v); setErr != nil {
			err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, setErr)
		}
	})
	return err
}

// NewLogger returns a text logger that writes records at level or above
// (debug, info, warn or error, the values of --log-level) to w.
func NewLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
