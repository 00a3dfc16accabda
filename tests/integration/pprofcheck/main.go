// pprofcheck — the independent reference for kiln's integration tests.
//
// For every pprof file named on the command line it parses the file with
// github.com/google/pprof/profile (Debian's golang-github-google-pprof-dev, the
// parser `go tool pprof` uses) and prints one line:
//
//	FILE<TAB>types=T1/U1,T2/U2 samples=N total.T1/U1=V1 total.T2/U2=V2
//
// samples is the number of Sample messages; total.<type>/<unit> is the exact
// int64 sum of that value over all samples, in sample-type order. That is the
// shape of the middle of kiln's debug-exporter line, so a test compares the two
// strings. A file that does not parse prints FILE<TAB>error=... and makes the
// exit status 1.
//
// Build offline in GOPATH mode (tests/integration/lib.sh does this):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o pprofcheck .
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/pprof/profile"
)

// summary returns the "types=... samples=... total...=..." text of one profile.
func summary(p *profile.Profile) string {
	types := make([]string, len(p.SampleType))
	for i, st := range p.SampleType {
		types[i] = st.Type + "/" + st.Unit
	}
	totals := make([]int64, len(p.SampleType))
	for _, s := range p.Sample {
		for i := range totals {
			if i < len(s.Value) {
				totals[i] += s.Value[i]
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "types=%s samples=%d", strings.Join(types, ","), len(p.Sample))
	for i, t := range types {
		fmt.Fprintf(&b, " total.%s=%d", t, totals[i])
	}
	return b.String()
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pprofcheck FILE...")
		os.Exit(2)
	}
	status := 0
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Printf("%s\terror=%v\n", name, err)
			status = 1
			continue
		}
		p, err := profile.Parse(f)
		f.Close()
		if err != nil {
			fmt.Printf("%s\terror=%q\n", name, err.Error())
			status = 1
			continue
		}
		fmt.Printf("%s\t%s\n", name, summary(p))
	}
	os.Exit(status)
}
