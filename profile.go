package main

// CPU profiling of a running server (--cpuprofile). It exists for the
// benchmarks: cmd/loadgen runs the binary with it and reads where the
// time went (README "Performance").

import (
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/pocketbase/pocketbase/core"
)

// profileCPU writes a CPU profile of the whole run to path, until app
// terminates (SIGINT/SIGTERM). SIGUSR1 starts over into <path>.load:
// cmd/loadgen sends it when its load window opens, so that profile leaves
// the set-up out.
func profileCPU(app core.App, path string) error {
	stop, err := startCPUProfile(path)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	restart := make(chan os.Signal, 1)
	signal.Notify(restart, syscall.SIGUSR1)
	go func() {
		for range restart {
			mu.Lock()
			stop()
			if stop, err = startCPUProfile(path + ".load"); err != nil {
				log.Printf("restart cpu profile: %v", err)
				stop = func() {}
			}
			mu.Unlock()
		}
	}()
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		signal.Stop(restart)
		mu.Lock()
		stop()
		mu.Unlock()
		return e.Next()
	})
	return nil
}

// startCPUProfile starts a CPU profile into path and returns its stop.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Printf("close cpu profile: %v", err)
		}
	}, nil
}
