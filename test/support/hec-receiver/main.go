// Command hec-receiver is the tests' Splunk HTTP Event Collector (test/support/hec-receiver.ts): a
// minimal OpenTelemetry Collector whose splunk_hec receiver takes /services/collector/event (and
// indexer acknowledgement through the ack extension) and whose file exporter writes every batch it
// received as one line of OTLP JSON, with nothing buffered, before the request is answered.
//
// The collector's receiver checks no token (it can only pass one on), so a front in this process
// does what Splunk does first: it answers a request without the right `Authorization: Splunk <token>`
// with Splunk's documented codes (2 token required, 3 invalid authorization, 4 invalid token) and
// hands every other request, untouched, to the receiver on a Unix socket of its own.
//
//	hec-receiver -listen 127.0.0.1:0 -token T -dir D
//
// writes D/config.yaml and D/received.jsonl, listens on D/hec.sock, and prints
// "hec-receiver listening on http://127.0.0.1:PORT" once the front listens. SIGTERM stops both.
// `hec-receiver -source` prints the digest of the source it was built from (see source below).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/ackextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/splunkhecreceiver"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// source is set at build time (.ci/run: -ldflags -X main.source=...) to the first 12 hex digits of
// the SHA-256 of main.go, go.mod and go.sum, in that order: the tests compare it with the checkout's
// source and refuse a stale binary.
var source = "unknown"

func components() (otelcol.Factories, error) {
	var err error
	f := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](splunkhecreceiver.NewFactory()); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](fileexporter.NewFactory()); err != nil {
		return f, err
	}
	f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](ackextension.NewFactory())
	return f, err
}

// The collector's own metrics would listen on :8888 and its logs would go to stderr at info: both
// off, so that receivers can run side by side and only errors show in the tests' output.
// rotation makes the file exporter write each batch unbuffered (flush_interval applies otherwise),
// so a 200 means the events are in the file.
const configTemplate = `
extensions:
  ack:
receivers:
  splunk_hec:
    endpoint: %q
    transport: unix
    ack:
      extension: ack
exporters:
  file:
    path: %q
    format: json
    rotation:
      max_megabytes: 1024
service:
  extensions: [ack]
  telemetry:
    metrics:
      level: none
    logs:
      level: error
  pipelines:
    logs:
      receivers: [splunk_hec]
      exporters: [file]
`

func splunkError(w http.ResponseWriter, status, code int, text string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"text": text, "code": code})
}

// front checks the token as Splunk does, then proxies to the receiver's socket. The health endpoint
// needs no token, as in Splunk.
func front(socket, token string) http.Handler {
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "hec-receiver"})
	proxy.Transport = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}
	// Before the receiver listens: what Splunk answers while it cannot take data (code 9, server busy).
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
		splunkError(w, http.StatusServiceUnavailable, 9, "Server is busy")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/services/collector/health") {
			auth := r.Header.Get("Authorization")
			scheme, given, _ := strings.Cut(auth, " ")
			switch {
			case auth == "":
				splunkError(w, http.StatusUnauthorized, 2, "Token is required")
				return
			case !strings.EqualFold(scheme, "Splunk") || given == "":
				splunkError(w, http.StatusUnauthorized, 3, "Invalid authorization")
				return
			case given != token:
				splunkError(w, http.StatusForbidden, 4, "Invalid token")
				return
			}
		}
		proxy.ServeHTTP(w, r)
	})
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "address of the front (token check)")
	token := flag.String("token", "", "the HEC token requests must carry")
	dir := flag.String("dir", "", "folder for config.yaml, hec.sock and received.jsonl")
	printSource := flag.Bool("source", false, "print the digest of the source this was built from, and exit")
	flag.Parse()
	if *printSource {
		fmt.Println(source)
		return nil
	}
	if *token == "" || *dir == "" {
		return fmt.Errorf("-token and -dir are required")
	}
	socket := filepath.Join(*dir, "hec.sock")
	config := filepath.Join(*dir, "config.yaml")
	yaml := fmt.Sprintf(configTemplate, socket, filepath.Join(*dir, "received.jsonl"))
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		return err
	}

	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "hec-receiver", Description: "Splunk HEC receiver for tests", Version: "test"},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs:              []string{"file:" + config},
				ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory()},
			},
		},
		// Signals are ours: SIGTERM shuts the collector down through its context.
		DisableGracefulShutdown: true,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: front(socket, *token)}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("hec-receiver listening on http://%s\n", ln.Addr())

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	err = col.Run(ctx)
	_ = srv.Close()
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "hec-receiver:", err)
		os.Exit(1)
	}
}
