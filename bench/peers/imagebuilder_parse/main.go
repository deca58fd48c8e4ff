// Command imagebuilder_parse times the Dockerfile parser that
// openshift/imagebuilder carries (a copy of Docker's builder/dockerfile/parser)
// over one file, with the same rounds and iteration logic as
// bench/parse_bench.c, so bench/parse can compare berth with a peer.
//
// Usage: imagebuilder_parse FILE [ROUNDS]
// Output: key=value lines (parse_mbs, nodes, iters, rounds, ...).
package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/openshift/imagebuilder/dockerfile/parser"
)

// Each round runs for about this long; the iteration count is calibrated once.
const roundTarget = time.Second

func parseOnce(data []byte) int {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		fmt.Fprintf(os.Stderr, "imagebuilder_parse: parse: %v\n", err)
		os.Exit(1)
	}
	return len(res.AST.Children)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: imagebuilder_parse FILE [ROUNDS]")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "imagebuilder_parse: %v\n", err)
		os.Exit(1)
	}
	rounds := 5
	if len(os.Args) > 2 {
		if rounds, err = strconv.Atoi(os.Args[2]); err != nil || rounds < 1 {
			fmt.Fprintln(os.Stderr, "imagebuilder_parse: bad ROUNDS")
			os.Exit(2)
		}
	}

	// Calibrate: double the iteration count until one batch takes at
	// least a tenth of the round target, then scale to the target.
	nodes := parseOnce(data)
	iters := 1
	for {
		t0 := time.Now()
		for i := 0; i < iters; i++ {
			parseOnce(data)
		}
		el := time.Since(t0)
		if el >= roundTarget/10 {
			iters = int(float64(iters) * float64(roundTarget) / float64(el))
			if iters < 1 {
				iters = 1
			}
			break
		}
		iters *= 2
	}

	mbs := make([]float64, rounds)
	for r := 0; r < rounds; r++ {
		t0 := time.Now()
		for i := 0; i < iters; i++ {
			parseOnce(data)
		}
		el := time.Since(t0).Seconds()
		mbs[r] = float64(len(data)) * float64(iters) / el / 1e6
	}
	sort.Float64s(mbs)

	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("bytes=%d\nnodes=%d\niters=%d\nrounds=%d\n", len(data), nodes, iters, rounds)
	fmt.Printf("parse_mbs=%.1f\nparse_min_mbs=%.1f\nparse_max_mbs=%.1f\n", mbs[rounds/2], mbs[0], mbs[rounds-1])
	fmt.Printf("max_rss_kib=%d\n", ru.Maxrss)
}
