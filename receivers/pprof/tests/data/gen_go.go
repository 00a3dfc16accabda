// gen_go.go — writes multipart /ingest bodies exactly as Go's mime/multipart
// writes them (the way pyroscope-go uploads), for the receiver's tests.
//
//	cd receivers/pprof/tests/data && go run gen_go.go /path/to/pprof__sample.cpu.pb.gz
//
// Outputs (body + .ct with the Content-Type):
//
//	go_cpu.body        profile part (the given file) + no sample_type_config
//	go_block.body      a real runtime/pprof block profile + pyroscope-go's
//	                   block sample_type_config (display names block_*)
//	go_mutex.body      a real runtime/pprof mutex profile + mutex config
//	go_block.pb.gz     the block profile alone (sent raw in a test)
package main

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

type sampleType struct {
	Units       string `json:"units,omitempty"`
	Aggregation string `json:"aggregation,omitempty"`
	DisplayName string `json:"display-name,omitempty"`
	Sampled     bool   `json:"sampled,omitempty"`
	Cumulative  bool   `json:"cumulative,omitempty"`
}

func form(profile []byte, stc map[string]*sampleType, name string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, err := w.CreateFormFile("profile", "profile.pprof")
	if err != nil {
		panic(err)
	}
	fw.Write(profile)
	if stc != nil {
		fw, err = w.CreateFormFile("sample_type_config", "sample_type_config.json")
		if err != nil {
			panic(err)
		}
		j, _ := json.Marshal(stc)
		fw.Write(j)
	}
	w.Close()
	os.WriteFile(name+".body", b.Bytes(), 0o644)
	os.WriteFile(name+".ct", []byte(w.FormDataContentType()), 0o644)
}

func contend() {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				mu.Lock()
				time.Sleep(10 * time.Microsecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func main() {
	cpu, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	form(cpu, nil, "go_cpu")

	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	contend()

	var blk, mtx bytes.Buffer
	pprof.Lookup("block").WriteTo(&blk, 0)
	pprof.Lookup("mutex").WriteTo(&mtx, 0)
	os.WriteFile("go_block.pb.gz", blk.Bytes(), 0o644)
	form(blk.Bytes(), map[string]*sampleType{
		"contentions": {DisplayName: "block_count", Units: "lock_samples"},
		"delay":       {DisplayName: "block_duration", Units: "lock_nanoseconds"},
	}, "go_block")
	form(mtx.Bytes(), map[string]*sampleType{
		"contentions": {DisplayName: "mutex_count", Units: "lock_samples"},
		"delay":       {DisplayName: "mutex_duration", Units: "lock_nanoseconds"},
	}, "go_mutex")
}
