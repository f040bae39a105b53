package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/runyard/runyard/shared/detect"
)

func init() { register("detect", "print the build plan of a repository as JSON", runDetect) }

// runDetect implements `runyard detect [--human] PATH`: the plan as one JSON object on stdout,
// or a short summary with --human. Not detected or a bad path: exit 2 and one line on stderr.
func runDetect(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	human := fs.Bool("human", false, "print a short human-readable summary instead of JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: runyard detect [--human] PATH")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	plan, err := detect.Detect(ctx, fs.Arg(0), detect.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "runyard %s\n", oneLine(err.Error()))
		return 2
	}
	if *human {
		printHuman(stdout, plan)
		return 0
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(plan); err != nil {
		fmt.Fprintf(stderr, "runyard %s\n", oneLine(err.Error()))
		return 1
	}
	return 0
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func printHuman(w io.Writer, p *detect.Plan) {
	val := func(s *string) string {
		if s == nil {
			return "-"
		}
		return *s
	}
	stack := p.Provider
	if p.Framework != nil {
		stack += " (" + *p.Framework + ")"
	}
	fmt.Fprintf(w, "app:      %s\n", p.AppDir)
	fmt.Fprintf(w, "stack:    %s, language %s\n", stack, p.Language)
	fmt.Fprintf(w, "runtime:  %s (from %s)\n", val(p.RuntimeVersion), val(p.RuntimeVersionSource))
	fmt.Fprintf(w, "packages: %s\n", val(p.PackageManager))
	fmt.Fprintf(w, "strategy: %s: %s\n", p.Strategy, p.StrategyReason)
	fmt.Fprintf(w, "install:  %s\n", val(p.InstallCmd))
	fmt.Fprintf(w, "build:    %s\n", val(p.BuildCmd))
	fmt.Fprintf(w, "start:    %s\n", val(p.StartCmd))
	port := "-"
	if p.Port != nil {
		port = fmt.Sprint(*p.Port)
	}
	fmt.Fprintf(w, "port:     %s (told via $%s)\n", port, p.PortEnv)
	fmt.Fprintf(w, "cache:    %s\n", p.CacheKey)
	if len(p.Candidates) > 0 {
		fmt.Fprintf(w, "candidates: %s\n", strings.Join(p.Candidates, ", "))
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning:  %s\n", warn)
	}
}
