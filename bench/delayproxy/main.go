// delayproxy forwards HTTP requests on 127.0.0.1 to a backend, adding a fixed
// delay to every request, so that benchmarks on loopback see the round-trip
// latency of a real object store.
//
//	delayproxy BACKEND_HOST:PORT DELAY     prints "127.0.0.1:PORT" once listening
//	GET /__stats on the proxy              {"requests": N, "bytes": M} (never forwarded)
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"
	"time"
)

type counting struct {
	http.ResponseWriter
	bytes *atomic.Int64
}

func (c counting) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.bytes.Add(int64(n))
	return n, err
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: delayproxy BACKEND_HOST:PORT DELAY (e.g. 25ms)")
		os.Exit(2)
	}
	delay, err := time.ParseDuration(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: os.Args[1]})
	var requests, bytes atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/__stats" {
			json.NewEncoder(w).Encode(map[string]int64{"requests": requests.Load(), "bytes": bytes.Load()})
			return
		}
		requests.Add(1)
		time.Sleep(delay)
		proxy.ServeHTTP(counting{w, &bytes}, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	os.Stdout.Sync()
	if err := http.Serve(ln, handler); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
