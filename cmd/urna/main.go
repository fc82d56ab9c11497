// Command urna is the one binary of the urna election system: one
// subcommand per job (see `urna help`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: run gets its arguments (without the name) and
// writes to stdout and stderr; an error is printed and makes urna exit 1.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"init":     {"make a local test election: keys, station homes, voting codes", runInit},
	"export":   {"write a station's whole chain as an election record", runExport},
	"node":     {"run one station until SIGINT or SIGTERM", runNode},
	"polls":    {"open or close the polls with an official's approval", runPolls},
	"status":   {"one screen of facts from a running station", runStatus},
	"tally":    {"verify an election from its genesis and chain alone, and its result", runTally},
	"vote":     {"the voter terminal (full screen, or --accessible line by line)", runVote},
	"bench":    {"measure a local cluster (or running nodes): ballots/s, latency, CPU, memory, disk", runBench},
	"official": {"the officials' console: live dashboard, approvals, results", runOfficial},
	"demo":     {"run a whole election on this machine and verify it (a minute)", runDemo},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "urna: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "urna %s: %v\n", args[0], err)
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		return coded.ExitCode()
	}
	return 1
}

// errUsage marks an error already explained by the flag set's usage.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "urna: a verifiable election system for polling stations")
	fmt.Fprintln(w, "\nUsage: urna <command> [flags]   (urna <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
}

// newFlags returns a flag set that prints its usage, with an example, to
// stderr and reports parse errors as errUsage.
func newFlags(name, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("urna "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of urna %s:\n", name)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExample:\n  %s\n", example)
	}
	return fs
}

// parse parses flags and turns a parse error into errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}
