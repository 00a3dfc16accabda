// goclient — a Go program that profiles itself with runtime/pprof and pushes the
// profiles to a Pyroscope-compatible /ingest endpoint the way pyroscope-go's
// upstream/remote does: POST /ingest?name=...&from=<unix ns>&until=<unix ns>
// &spyName=gospy&sampleRate=100&units=...&aggregationType=..., body
// multipart/form-data with a file part `profile` (filename profile.pprof, the
// gzip'ed pprof runtime/pprof wrote) and, for heap, a file part
// `sample_type_config` (filename sample_type_config.json).
//
// Used by tests/integration/test_go_client.sh. Standard library only, so it
// builds offline with Debian's golang-go.
//
// It burns CPU and allocates for -duration with a CPU profile running, then
// takes a heap profile, writes both to -out (cpu.pb.gz, heap.pb.gz: exactly the
// bytes it uploads) and uploads them. It prints one line per upload:
//
//	upload kind=cpu status=200 bytes=1234 file=/out/cpu.pb.gz
//
// and exits 1 if an upload was not answered 200.
package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// heapSampleTypeConfig is what pyroscope-go sends with heap profiles.
const heapSampleTypeConfig = `{"alloc_objects":{"units":"objects"},"alloc_space":{"units":"bytes"},` +
	`"inuse_objects":{"units":"objects","aggregation":"average"},` +
	`"inuse_space":{"units":"bytes","aggregation":"average"}}`

// retained keeps some allocations alive so the heap profile has in-use samples.
type retained struct {
	mu   sync.Mutex
	keep [][]byte
}

func (r *retained) add(b []byte) {
	r.mu.Lock()
	if len(r.keep) < 256 {
		r.keep = append(r.keep, b)
	} else {
		r.keep[len(b)%len(r.keep)] = b
	}
	r.mu.Unlock()
}

// burn hashes and allocates until the deadline; returns a value so the work is
// not optimised away.
func burn(deadline time.Time, r *retained) byte {
	var acc byte
	buf := make([]byte, 4096)
	for i := 0; time.Now().Before(deadline); i++ {
		sum := sha256.Sum256(buf)
		acc ^= sum[0]
		buf[i%len(buf)] = sum[1]
		if i%64 == 0 {
			b := make([]byte, 16*1024+i%4096)
			b[0] = acc
			r.add(b)
		}
	}
	return acc
}

type upload struct {
	kind, file         string
	units, aggregation string
	sampleTypeConfig   string
}

func post(server, name, tenant string, from, until time.Time, u upload, body []byte) (int, string, error) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, err := mw.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		return 0, "", err
	}
	if _, err := part.Write(body); err != nil {
		return 0, "", err
	}
	if u.sampleTypeConfig != "" {
		part, err = mw.CreateFormFile("sample_type_config", "sample_type_config.json")
		if err != nil {
			return 0, "", err
		}
		if _, err := io.WriteString(part, u.sampleTypeConfig); err != nil {
			return 0, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return 0, "", err
	}

	q := url.Values{}
	q.Set("name", name)
	q.Set("from", strconv.FormatInt(from.UnixNano(), 10))
	q.Set("until", strconv.FormatInt(until.UnixNano(), 10))
	q.Set("spyName", "gospy")
	q.Set("sampleRate", "100")
	q.Set("units", u.units)
	q.Set("aggregationType", u.aggregation)
	req, err := http.NewRequest(http.MethodPost, server+"/ingest?"+q.Encode(), &form)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("User-Agent", "kiln-integration-goclient")
	if tenant != "" {
		req.Header.Set("X-Scope-OrgID", tenant)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(msg), nil
}

func main() {
	server := flag.String("server", "", "kiln base URL, e.g. http://127.0.0.1:4040 (required)")
	out := flag.String("out", ".", "directory to write cpu.pb.gz and heap.pb.gz to")
	name := flag.String("name", "goapp{env=test}", "the name parameter: app name and tags")
	tenant := flag.String("tenant", "", "X-Scope-OrgID to send (none when empty)")
	duration := flag.Duration("duration", 2*time.Second, "how long to burn CPU with the profiler on")
	flag.Parse()
	if *server == "" {
		fmt.Fprintln(os.Stderr, "goclient: -server is required")
		os.Exit(2)
	}
	runtime.MemProfileRate = 64 * 1024

	var cpu bytes.Buffer
	from := time.Now()
	if err := pprof.StartCPUProfile(&cpu); err != nil {
		fmt.Fprintln(os.Stderr, "goclient: start cpu profile:", err)
		os.Exit(1)
	}
	r := &retained{}
	deadline := from.Add(*duration)
	var wg sync.WaitGroup
	results := make([]byte, 2)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			results[w] = burn(deadline, r)
		}(w)
	}
	wg.Wait()
	pprof.StopCPUProfile()
	until := time.Now()

	runtime.GC()
	var heap bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&heap, 0); err != nil {
		fmt.Fprintln(os.Stderr, "goclient: heap profile:", err)
		os.Exit(1)
	}
	runtime.KeepAlive(r)

	uploads := []struct {
		u    upload
		body []byte
	}{
		{upload{kind: "cpu", file: "cpu.pb.gz", units: "samples", aggregation: "sum"}, cpu.Bytes()},
		{upload{kind: "heap", file: "heap.pb.gz", units: "objects", aggregation: "average",
			sampleTypeConfig: heapSampleTypeConfig}, heap.Bytes()},
	}
	failed := false
	for _, up := range uploads {
		path := filepath.Join(*out, up.u.file)
		if err := os.WriteFile(path, up.body, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "goclient:", err)
			os.Exit(1)
		}
		status, msg, err := post(*server, *name, *tenant, from, until, up.u, up.body)
		if err != nil {
			fmt.Printf("upload kind=%s error=%q file=%s\n", up.u.kind, err.Error(), path)
			failed = true
			continue
		}
		fmt.Printf("upload kind=%s status=%d bytes=%d file=%s\n", up.u.kind, status, len(up.body), path)
		if status != http.StatusOK {
			fmt.Printf("  answer: %s\n", msg)
			failed = true
		}
	}
	fmt.Fprintf(os.Stderr, "goclient: burned (%x)\n", results)
	if failed {
		os.Exit(1)
	}
}
