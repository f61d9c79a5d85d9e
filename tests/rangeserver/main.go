// rangeserver serves a directory over HTTP on 127.0.0.1, with Range
// requests (net/http's ServeContent), and counts what it sends, for tests of
// GDAL's /vsicurl/ access patterns.
//
//	rangeserver DIR         prints "http://127.0.0.1:PORT" once listening
//	GET  /__stats           {"requests": N, "bytes": M} since the last reset
//	POST /__reset           zeroes the counters
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
)

type counter struct {
	http.ResponseWriter
	bytes *atomic.Int64
}

func (c counter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.bytes.Add(int64(n))
	return n, err
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rangeserver DIR")
		os.Exit(2)
	}
	var requests, bytes atomic.Int64
	files := http.FileServer(http.Dir(os.Args[1]))
	mux := http.NewServeMux()
	mux.HandleFunc("/__stats", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]int64{"requests": requests.Load(), "bytes": bytes.Load()})
	})
	mux.HandleFunc("/__reset", func(w http.ResponseWriter, r *http.Request) {
		requests.Store(0)
		bytes.Store(0)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(counter{w, &bytes}, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("http://%s\n", ln.Addr())
	os.Stdout.Sync()
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
