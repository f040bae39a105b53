// Package emulatorstest gives tests the Firestore and Pub/Sub emulators: the ones the
// environment already names (FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, as set by
// `runyard testenv`, which `make test` uses), or ones started for the test binary.
//
// A package that needs an emulator should use Run from TestMain, so one JVM serves all its
// tests; Host starts one per test and is for the odd test that needs its own.
package emulatorstest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/runyard/runyard/shared/emulators"
)

// startTimeout bounds starting one emulator (two JVMs can share 2 busy cores).
const startTimeout = 2 * time.Minute

var starters = map[emulators.Kind]func(context.Context, emulators.Options) (*emulators.Emulator, error){
	emulators.Firestore: emulators.StartFirestore,
	emulators.PubSub:    emulators.StartPubSub,
}

var envVars = map[emulators.Kind]string{
	emulators.Firestore: "FIRESTORE_EMULATOR_HOST",
	emulators.PubSub:    "PUBSUB_EMULATOR_HOST",
}

// Run is for TestMain: it starts each kind of emulator whose variable is not set yet, sets
// the variable for the tests, runs them, stops what it started and returns the exit code:
//
//	func TestMain(m *testing.M) { os.Exit(emulatorstest.Run(m, emulators.Firestore)) }
func Run(m *testing.M, kinds ...emulators.Kind) int {
	var started []*emulators.Emulator
	defer func() {
		for _, e := range started {
			if err := e.Stop(context.Background()); err != nil {
				fmt.Fprintf(os.Stderr, "emulatorstest: %v\n", err)
			}
		}
	}()
	for _, k := range kinds {
		if os.Getenv(envVars[k]) != "" {
			continue
		}
		e, err := start(k)
		if err != nil {
			fmt.Fprintf(os.Stderr, "emulatorstest: %v\n", err)
			return 1
		}
		started = append(started, e)
		if err := os.Setenv(e.EnvVar(), e.Host()); err != nil {
			fmt.Fprintf(os.Stderr, "emulatorstest: %v\n", err)
			return 1
		}
	}
	return m.Run()
}

// Host returns the host of an emulator of kind: the environment's, or one started for this
// test and stopped when it ends. It does not change the environment.
func Host(tb testing.TB, kind emulators.Kind) string {
	tb.Helper()
	if h := os.Getenv(envVars[kind]); h != "" {
		return h
	}
	e, err := start(kind)
	if err != nil {
		tb.Fatalf("emulatorstest: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Stop(context.Background()); err != nil {
			tb.Errorf("emulatorstest: %v", err)
		}
	})
	return e.Host()
}

func start(kind emulators.Kind) (*emulators.Emulator, error) {
	startFn, ok := starters[kind]
	if !ok {
		return nil, fmt.Errorf("unknown emulator kind %q", kind)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	return startFn(ctx, emulators.Options{MaxHeap: "512m", StartTimeout: startTimeout})
}
