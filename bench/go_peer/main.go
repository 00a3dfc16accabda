// bench/go_peer — the Go peer of the ingest benchmark: what a Go-based
// ingester does with each received profile, on the same bytes as kiln.
//
// It reads the given files once, then for -n profiles (file k % nfiles for
// profile k) calls profile.ParseData (gunzip + protobuf decode + checks, from
// github.com/google/pprof) and merges the parsed profiles per sample-type set
// with profile.Merge: parsed profiles of one set are gathered into groups of
// -batch, and each group is merged together with that set's running
// aggregate (so the aggregate stays one profile, as in an ingester's head).
// Only parse + merge is timed; the file reads are not.
//
// Output: one human line and one `RESULT key=value ...` line (profiles/s,
// MB/s compressed as read, MB/s uncompressed, the CPU seconds the process used
// during the timed part — GC included — and its peak RSS).
//
// Build offline with Debian's packages (bench/run_ingest.sh does this):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode:$tmp go build -o go_peer .
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
)

type input struct {
	path string
	data []byte
	raw  int // uncompressed size
}

func typeKey(p *profile.Profile) string {
	var b strings.Builder
	for _, st := range p.SampleType {
		b.WriteString(st.Type)
		b.WriteByte('/')
		b.WriteString(st.Unit)
		b.WriteByte(',')
	}
	if p.PeriodType != nil {
		b.WriteString("period:")
		b.WriteString(p.PeriodType.Type)
		b.WriteByte('/')
		b.WriteString(p.PeriodType.Unit)
	}
	return b.String()
}

func rawSize(data []byte) (int, error) {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return len(data), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, zr)
	return int(n), err
}

// cpuSeconds is the user+system CPU time of the process so far (GC included).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6 + float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
}

type group struct {
	acc     *profile.Profile
	pending []*profile.Profile
	merges  int
}

func main() {
	n := flag.Int("n", 100, "profiles to parse and merge")
	batch := flag.Int("batch", 16, "parsed profiles merged at a time into the running aggregate")
	maxSecs := flag.Float64("t", 0, "stop after this many seconds (0: no limit)")
	flag.Parse()
	if flag.NArg() == 0 || *n < 1 || *batch < 1 {
		fmt.Fprintln(os.Stderr, "usage: go_peer [-n profiles] [-batch k] [-t secs] FILE...")
		os.Exit(2)
	}
	var ins []input
	for _, path := range flag.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go_peer:", err)
			os.Exit(1)
		}
		raw, err := rawSize(data)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go_peer:", path, err)
			os.Exit(1)
		}
		ins = append(ins, input{path, data, raw})
	}
	groups := map[string]*group{}
	flush := func(g *group) {
		if len(g.pending) == 0 {
			return
		}
		list := g.pending
		if g.acc != nil {
			list = append([]*profile.Profile{g.acc}, g.pending...)
		}
		m, err := profile.Merge(list)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go_peer: merge:", err)
			os.Exit(1)
		}
		g.acc = m
		g.pending = g.pending[:0]
		g.merges++
	}
	runtime.GC()
	cpu0 := cpuSeconds()
	var parseDur time.Duration
	var cbytes, rbytes int64
	var samples int64
	done := 0
	start := time.Now()
	deadline := time.Duration(*maxSecs * float64(time.Second))
	for k := 0; k < *n; k++ {
		if deadline > 0 && time.Since(start) > deadline {
			break
		}
		in := &ins[k%len(ins)]
		tp := time.Now()
		p, err := profile.ParseData(in.data)
		parseDur += time.Since(tp)
		if err != nil {
			fmt.Fprintln(os.Stderr, "go_peer:", in.path, err)
			os.Exit(1)
		}
		samples += int64(len(p.Sample))
		key := typeKey(p)
		g := groups[key]
		if g == nil {
			g = &group{}
			groups[key] = g
		}
		g.pending = append(g.pending, p)
		if len(g.pending) >= *batch {
			flush(g)
		}
		cbytes += int64(len(in.data))
		rbytes += int64(in.raw)
		done++
	}
	for _, g := range groups {
		flush(g)
	}
	el := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	maxRSS := float64(ru.Maxrss) / 1024 // KiB on Linux
	aggSamples := 0
	for _, g := range groups {
		if g.acc != nil {
			aggSamples += len(g.acc.Sample)
		}
	}
	fmt.Printf("go_peer: %d profiles (%d files, %d type sets, %d samples in, %d in the aggregates) "+
		"in %.3f s: %.1f profiles/s, %.2f MB/s compressed, %.2f MB/s uncompressed; GOMAXPROCS=%d, "+
		"heap sys %.1f MiB, %d GCs; %.0f%% of the time in ParseData\n",
		done, len(ins), len(groups), samples, aggSamples, el, float64(done)/el,
		float64(cbytes)/el/1e6, float64(rbytes)/el/1e6, runtime.GOMAXPROCS(0),
		float64(ms.HeapSys)/(1<<20), ms.NumGC, 100*parseDur.Seconds()/el)
	fmt.Printf("RESULT profiles=%d parse_secs=%.6f secs=%.6f profiles_s=%.3f mb_s=%.3f raw_mb_s=%.3f bytes=%d raw_bytes=%d groups=%d max_rss_mib=%.1f cpu_s=%.6f\n",
		done, parseDur.Seconds(), el, float64(done)/el, float64(cbytes)/el/1e6, float64(rbytes)/el/1e6,
		cbytes, rbytes, len(groups), maxRSS, cpu)
}
