// relabel_ref.go — independent reference numbers for the relabel processor's
// tests, computed with Go's own libraries (crypto/md5 for hashmod, the
// github.com/google/pprof/profile package for drop_frames = Profile.Prune,
// Compact for merging). Not part of the build; run it to regenerate
// expected.txt next to it:
//
//	cd processors/relabel/tests/ref && \
//	GO111MODULE=off GOPATH=/usr/share/gocode go run relabel_ref.go ../../../../../shared/corpus > expected.txt
//
// (Debian: golang-go and golang-github-google-pprof-dev.) Output sections:
//
//	== <case>
//	samples <n>                    samples after the edit, before merging
//	distinct <n>                   distinct (location ids, labels) pairs: the samples
//	                               kiln keeps, since it merges equal ones
//	total <sum of the sample index over all samples>
//	D <fnv1a-64 hex> <rows>        digest of the per-function rows, each
//	                               "name\tflat\tcum\n", sorted by name (rows as
//	                               kiln_pprof_top gives them: samples with value 0
//	                               add nothing)
//	F <flat> <cum> <function>      the rows themselves when there are at most 40
//	L <labels> <total>             per sample label set (drop_sample_labels cases)
//	H <modulus> <hex input> <value> (hashmod cases)
//	T <sample type> <total>        per sample type (the sample-type cases)
package main

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

func load(dir, name string) *profile.Profile {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		panic(err)
	}
	return p
}

// top computes per-function flat and cum of sample index si, function
// granularity with inline frames: flat to the leaf frame, cum once per
// distinct function per sample.
func top(p *profile.Profile, si int) (map[string][2]int64, int64) {
	out := map[string][2]int64{}
	var total int64
	for _, s := range p.Sample {
		v := s.Value[si]
		total += v
		if v == 0 {
			continue
		}
		seen := map[string]bool{}
		first := true
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				name := ""
				if ln.Function != nil {
					name = ln.Function.Name
				}
				r := out[name]
				if first {
					r[0] += v
					first = false
				}
				if !seen[name] {
					r[1] += v
					seen[name] = true
				}
				out[name] = r
			}
		}
	}
	return out, total
}

func distinct(p *profile.Profile) int {
	seen := map[string]bool{}
	for _, s := range p.Sample {
		var b strings.Builder
		for _, l := range s.Location {
			fmt.Fprintf(&b, "%d,", l.ID)
		}
		var parts []string
		for k, vs := range s.Label {
			parts = append(parts, k+"="+strings.Join(vs, ","))
		}
		for k, vs := range s.NumLabel {
			parts = append(parts, fmt.Sprintf("%s=%v%v", k, vs, s.NumUnit[k]))
		}
		sort.Strings(parts)
		b.WriteString("|" + strings.Join(parts, ","))
		seen[b.String()] = true
	}
	return len(seen)
}

func emit(name string, p *profile.Profile, si int) {
	fmt.Printf("== %s\n", name)
	fmt.Printf("samples %d\n", len(p.Sample))
	fmt.Printf("distinct %d\n", distinct(p))
	rows, total := top(p, si)
	fmt.Printf("total %d\n", total)
	var names []string
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	h := fnv.New64a()
	for _, n := range names {
		fmt.Fprintf(h, "%s\t%d\t%d\n", n, rows[n][0], rows[n][1])
	}
	fmt.Printf("D %016x %d\n", h.Sum64(), len(names))
	if len(names) <= 40 {
		for _, n := range names {
			fmt.Printf("F %d %d %s\n", rows[n][0], rows[n][1], n)
		}
	}
}

func prune(dir, file, name, drop, keep string, si int) {
	p := load(dir, file)
	d := regexp.MustCompile("^(" + drop + ")$")
	var k *regexp.Regexp
	if keep != "" {
		k = regexp.MustCompile("^(" + keep + ")$")
	}
	p.Prune(d, k)
	emit(name, p, si)
}

func depth(dir, file, name string, n int, keepLeaf bool, si int) {
	p := load(dir, file)
	for _, s := range p.Sample {
		if len(s.Location) > n {
			if keepLeaf {
				s.Location = s.Location[:n]
			} else {
				s.Location = s.Location[len(s.Location)-n:]
			}
		}
	}
	emit(name, p, si)
}

func dropLabels(dir, file, name string, keys []string, si int) {
	p := load(dir, file)
	for _, s := range p.Sample {
		for _, k := range keys {
			delete(s.Label, k)
			delete(s.NumLabel, k)
			delete(s.NumUnit, k)
		}
	}
	emit(name, p, si)
	sets := map[string]int64{}
	for _, s := range p.Sample {
		var parts []string
		for k, vs := range s.Label {
			parts = append(parts, k+"="+strings.Join(vs, ","))
		}
		for k, vs := range s.NumLabel {
			parts = append(parts, fmt.Sprintf("%s=%v", k, vs))
		}
		sort.Strings(parts)
		sets["{"+strings.Join(parts, ",")+"}"] += s.Value[si]
	}
	var ks []string
	for k := range sets {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		fmt.Printf("L %s %d\n", k, sets[k])
	}
}

func types(dir, file, name string) {
	p := load(dir, file)
	fmt.Printf("== %s\n", name)
	fmt.Printf("samples %d\n", len(p.Sample))
	fmt.Printf("default %s\n", p.DefaultSampleType)
	for i, st := range p.SampleType {
		var t int64
		for _, s := range p.Sample {
			t += s.Value[i]
		}
		fmt.Printf("T %s %d\n", st.Type, t)
	}
}

func hashmod(mod uint64, s string) {
	h := md5.Sum([]byte(s))
	fmt.Printf("H %d %s %d\n", mod, hex.EncodeToString([]byte(s)), binary.BigEndian.Uint64(h[8:])%mod)
}

func main() {
	dir := os.Args[1]
	cpu, large := "pprof__sample.cpu.pb.gz", "pprof__large.cpu.pb.gz"
	emit("cpu.original", load(dir, cpu), 1)
	emit("large.original", load(dir, large), 1)
	prune(dir, cpu, "cpu.drop_mapassign", `runtime\.mapassign_fast64`, "", 1)
	prune(dir, cpu, "cpu.drop_runtime_keep_main", `runtime\..*`, `runtime\.main`, 1)
	prune(dir, cpu, "cpu.drop_busyloop", `main\.busyLoop`, "", 1)
	prune(dir, cpu, "cpu.drop_abs_inline", `math\.Abs`, "", 1)
	prune(dir, large, "large.drop_time_rand_keep_Now", `time\..*|math/rand\..*`, `time\.Now`, 1)
	prune(dir, large, "large.drop_func1", `main\.setFunctions\.func1[0-9]*`, "", 1)
	prune(dir, large, "large.drop_next", `main\.next`, "", 1)
	depth(dir, large, "large.depth8_root", 8, false, 1)
	depth(dir, large, "large.depth8_leaf", 8, true, 1)
	dropLabels(dir, "parca__profile-with-labels.pb.gz", "labels.drop_thread_id", []string{"thread_id"}, 0)
	dropLabels(dir, "parca__profile-with-labels.pb.gz", "labels.drop_all", []string{"thread_id", "thread_name", "api"}, 0)
	dropLabels(dir, "parca__labels.pb.gz", "labels2.drop_api", []string{"api"}, 1)
	types(dir, "parca__alloc_objects.pb.gz", "types.alloc_objects")
	fmt.Printf("== hashmod\n")
	for _, c := range []struct {
		m uint64
		s string
	}{{1000, "baz"}, {1000, "foo\nbar"}, {3, "10.132.183.40:80"}, {1, "x"}, {7, ""}, {1 << 62, "service-a;pod-1"},
		{10, "é;ü"}, {1000003, strings.Repeat("a", 200)}, {64, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ01"}} {
		hashmod(c.m, c.s)
	}
}
