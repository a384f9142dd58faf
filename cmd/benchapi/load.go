package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lifeboat-dev/lifeboat/internal/benchseed"
)

// loadFlags are cmdLoad's settings.
type loadFlags struct {
	base        string
	clients     int
	duration    time.Duration
	warmup      time.Duration
	depth       int
	targetDepth int
	rounds      int
	target      string
	token       string
}

// scenario is one URL hammered by every client.
type scenario struct {
	name string
	path string
}

// result is one scenario's measurement.
type result struct {
	requests int
	errors   int
	firstErr string
	bytes    int64
	elapsed  time.Duration
	lat      []time.Duration // sorted
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// pct returns the q-quantile of the latencies (nearest rank).
func (r result) pct(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(q*float64(len(r.lat))+0.5) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

func cmdLoad(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f loadFlags
	fs.StringVar(&f.base, "url", "", "lifeboat's base URL, like http://127.0.0.1:8080")
	dbURL := fs.String("db", "", "the state database (to find a long log, for EXPLAIN and pg_stat_statements)")
	fs.IntVar(&f.clients, "clients", 50, "concurrent clients")
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured time per page")
	fs.DurationVar(&f.warmup, "warmup", 3*time.Second, "unmeasured load before each measurement")
	fs.IntVar(&f.depth, "depth", 1000, "pages to follow next_cursor for the deep page")
	fs.IntVar(&f.targetDepth, "target-depth", 100, "pages to follow next_cursor for the deep page of one target")
	fs.IntVar(&f.rounds, "rounds", 2, "times every page is measured (interleaved), to see the noise")
	fs.StringVar(&f.target, "target", benchseed.TargetNames[0], "target of the filtered pages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.base == "" || *dbURL == "" {
		return errors.New("--url and --db: required")
	}
	// The token never goes through argv, where ps would show it.
	if f.token = getenv("LIFEBOAT_BENCH_TOKEN"); f.token == "" {
		return errors.New("$LIFEBOAT_BENCH_TOKEN: required (an API token, as lifeboat token create prints it)")
	}
	f.base = strings.TrimRight(f.base, "/")
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	defer pool.Close()

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: 2 * f.clients, MaxIdleConnsPerHost: 2 * f.clients, DisableCompression: true,
	}, Timeout: 30 * time.Second}
	l := &loader{f: f, client: client, out: stdout}

	// The pages: found once, single client, then hammered.
	first := "/api/v1/runs?limit=50"
	deepCursor, err := l.walk(ctx, first, f.depth, true)
	if err != nil {
		return err
	}
	filtered := "/api/v1/runs?limit=50&target=" + url.QueryEscape(f.target) + "&status=failed"
	byTarget := "/api/v1/runs?limit=50&target=" + url.QueryEscape(f.target)
	targetCursor, err := l.walk(ctx, byTarget, f.targetDepth, false)
	if err != nil {
		return err
	}
	logRun, logAfter, logLines, err := longLog(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "log page: run %d has %d lines; reading 500 after line id %d (%d%% into it)\n",
		logRun, logLines.count, logAfter, 100*(logAfter-logLines.first)/max(1, logLines.count))
	scenarios := []scenario{
		{"first page", first},
		{fmt.Sprintf("deep page (%d)", f.depth), first + "&cursor=" + deepCursor},
		{"target+failed", filtered},
		{fmt.Sprintf("target, page %d", f.targetDepth), byTarget + "&cursor=" + targetCursor},
		{"log page (500)", fmt.Sprintf("/api/v1/runs/%d/logs?after=%d&limit=500", logRun, logAfter)},
	}
	for _, s := range scenarios {
		if err := l.check(ctx, s); err != nil {
			return err
		}
	}

	stats := newStatements(ctx, pool, stderr)
	results := make([][]result, f.rounds) // [round][scenario], each page alone
	serial := make([][]result, f.rounds)  // [round][scenario], one client going round them
	row := func(name string, r result) {
		fmt.Fprintf(stdout, "  %-20s %8.0f %8s %8s %8s %8s %7d %7.1f\n", name, r.rps(), ms(r.pct(0.50)), ms(r.pct(0.90)),
			ms(r.pct(0.99)), ms(r.pct(1)), r.errors, float64(r.bytes)/1024/float64(max(1, r.requests)))
		if r.errors > 0 {
			fmt.Fprintf(stdout, "    first error: %s\n", r.firstErr)
		}
	}
	for round := range f.rounds {
		fmt.Fprintf(stdout, "\nround %d/%d: %d clients, %s warm-up + %s each\n", round+1, f.rounds, f.clients, f.warmup, f.duration)
		fmt.Fprintf(stdout, "  %-20s %8s %8s %8s %8s %8s %7s %7s\n", "page", "req/s", "p50", "p90", "p99", "max", "errors", "KB/resp")
		// Odd rounds go backwards, so a machine getting busier or quieter
		// during the benchmark does not always favour the same pages.
		order := slices.Clone(scenarios)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		results[round] = make([]result, len(scenarios))
		for _, s := range order {
			l.hammer(ctx, f.warmup, f.clients, s)
			stats.reset(ctx)
			r := l.hammer(ctx, f.duration, f.clients, s)[0]
			if ctx.Err() != nil {
				return ctx.Err()
			}
			results[round][slices.Index(scenarios, s)] = r
			stats.read(ctx, s.name, r.requests)
			row(s.name, r)
		}
		// One client going round the pages: each request has the machine
		// to itself but for the rest of the world, and every page sees the
		// same world, which comes and goes. At 50 clients a request mostly
		// waits behind the others, so latency there is 50 / throughput.
		l.hammer(ctx, f.warmup, 1, scenarios...)
		serial[round] = l.hammer(ctx, f.duration, 1, scenarios...)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fmt.Fprintf(stdout, "  one client going round the pages (its own latency, no queue):\n")
		for i, s := range scenarios {
			row("  "+s.name, serial[round][i])
		}
	}

	fmt.Fprintln(stdout, "\ndeep page / first page (aim <= 1.5):")
	for round := range f.rounds {
		for _, m := range []struct {
			how string
			rs  []result
		}{{"50 clients", results[round][:2]}, {"1 client", serial[round][:2]}} {
			first, deep := m.rs[0], m.rs[1]
			fmt.Fprintf(stdout, "  round %d, %-11s p50 %.2fx, p90 %.2fx, p99 %.2fx", round+1, m.how+":",
				ratio(deep.pct(0.5), first.pct(0.5)), ratio(deep.pct(0.9), first.pct(0.9)), ratio(deep.pct(0.99), first.pct(0.99)))
			if m.how == "50 clients" {
				fmt.Fprintf(stdout, ", req/s %.2fx", first.rps()/deep.rps())
			}
			fmt.Fprintln(stdout)
		}
	}
	if f.rounds > 1 {
		fmt.Fprintln(stdout, "\nnoise between rounds (max/min):")
		for i, s := range scenarios {
			var p50s, rpss []float64
			for _, rs := range results {
				p50s = append(p50s, float64(rs[i].pct(0.5)))
				rpss = append(rpss, rs[i].rps())
			}
			fmt.Fprintf(stdout, "  %-20s p50 %.2fx, req/s %.2fx\n", s.name, slices.Max(p50s)/slices.Min(p50s), slices.Max(rpss)/slices.Min(rpss))
		}
	}
	stats.print(stdout)
	return explainAll(ctx, pool, l, scenarios, logRun, logAfter)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b time.Duration) float64 { return float64(a) / float64(max(b, 1)) }

type loader struct {
	f      loadFlags
	client *http.Client
	out    io.Writer
}

func (l *loader) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.f.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+l.f.token)
	req.Header.Set("Accept", "application/json")
	return l.client.Do(req)
}

// getJSON GETs path and decodes a 200 response into v.
func (l *loader) getJSON(ctx context.Context, path string, v any) error {
	resp, err := l.get(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.300s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

type runPage struct {
	Runs []struct {
		ID     int64  `json:"id"`
		Target string `json:"target"`
		Status string `json:"status"`
	} `json:"runs"`
	NextCursor *string `json:"next_cursor"`
}

// walk follows next_cursor from path for pages pages, one client, and
// returns the cursor of the page after the last one followed. With report,
// it prints how long the first and the last hundred pages took.
func (l *loader) walk(ctx context.Context, path string, pages int, report bool) (string, error) {
	cursor := ""
	var took []time.Duration
	for i := range pages {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var page runPage
		t0 := time.Now()
		if err := l.getJSON(ctx, p, &page); err != nil {
			return "", err
		}
		took = append(took, time.Since(t0))
		if page.NextCursor == nil {
			return "", fmt.Errorf("GET %s: page %d is the last one; seed more runs or lower the depth", path, i+1)
		}
		cursor = *page.NextCursor
	}
	if report && len(took) >= 200 {
		mean := func(ds []time.Duration) time.Duration { return sumOf(ds) / time.Duration(len(ds)) }
		fmt.Fprintf(l.out, "walked %d pages of %s in %.1fs, one client: pages 1-100 %s each, pages %d-%d %s each\n",
			pages, path, sumOf(took).Seconds(), ms(mean(took[:100])), pages-99, pages, ms(mean(took[len(took)-100:])))
	}
	return url.QueryEscape(cursor), nil
}

func sumOf(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}

// check GETs a scenario's page once and makes sure it is a full page.
func (l *loader) check(ctx context.Context, s scenario) error {
	if strings.Contains(s.path, "/logs") {
		var page struct {
			Lines []struct {
				ID int64 `json:"id"`
			} `json:"lines"`
		}
		if err := l.getJSON(ctx, s.path, &page); err != nil {
			return err
		}
		if len(page.Lines) != 500 {
			return fmt.Errorf("%s: GET %s returned %d lines, want 500", s.name, s.path, len(page.Lines))
		}
		return nil
	}
	var page runPage
	if err := l.getJSON(ctx, s.path, &page); err != nil {
		return err
	}
	if len(page.Runs) != 50 {
		return fmt.Errorf("%s: GET %s returned %d runs, want 50", s.name, s.path, len(page.Runs))
	}
	for _, r := range page.Runs {
		if strings.Contains(s.path, "status=failed") && (r.Status != "failed" || r.Target != l.f.target) {
			return fmt.Errorf("%s: GET %s returned run %d (%s, %s)", s.name, s.path, r.ID, r.Target, r.Status)
		}
	}
	return nil
}

// hammer GETs the scenarios' pages from clients clients until d has passed,
// each client going round them (starting at different ones, so the mix is
// even at every moment), and returns one result per scenario.
func (l *loader) hammer(ctx context.Context, d time.Duration, clients int, ss ...scenario) []result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu  sync.Mutex
		all = make([]result, len(ss))
		wg  sync.WaitGroup
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			mine := make([]result, len(ss))
			for i := c; ctx.Err() == nil; i++ {
				k := i % len(ss)
				t0 := time.Now()
				resp, err := l.get(ctx, ss[k].path)
				var n int64
				if err == nil {
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: %s", ss[k].path, resp.Status)
					}
				}
				if ctx.Err() != nil {
					break // cut short by the end of the measurement: not counted
				}
				r := &mine[k]
				if err != nil {
					r.errors++
					if r.firstErr == "" {
						r.firstErr = err.Error()
					}
					continue
				}
				r.requests++
				r.bytes += n
				r.lat = append(r.lat, time.Since(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			for k := range all {
				all[k].requests += mine[k].requests
				all[k].errors += mine[k].errors
				all[k].bytes += mine[k].bytes
				all[k].lat = append(all[k].lat, mine[k].lat...)
				if all[k].firstErr == "" {
					all[k].firstErr = mine[k].firstErr
				}
			}
		})
	}
	wg.Wait()
	for k := range all {
		all[k].elapsed = time.Since(start)
		slices.Sort(all[k].lat)
	}
	return all
}

type logSpan struct{ first, count int64 }

// longLog finds the run with the most log lines and a line 80% into it.
func longLog(ctx context.Context, db *pgxpool.Pool) (run, after int64, span logSpan, err error) {
	err = db.QueryRow(ctx, `SELECT run_id FROM run_logs GROUP BY run_id ORDER BY count(*) DESC, run_id LIMIT 1`).Scan(&run)
	if err != nil {
		return 0, 0, span, fmt.Errorf("find a long log: %w", err)
	}
	err = db.QueryRow(ctx, `SELECT min(id), count(*) FROM run_logs WHERE run_id = $1`, run).Scan(&span.first, &span.count)
	if err != nil {
		return 0, 0, span, fmt.Errorf("find a long log: %w", err)
	}
	if span.count < 1000 {
		return 0, 0, span, fmt.Errorf("the longest log (run %d) has %d lines: seed more log lines", run, span.count)
	}
	// Ids of a run's lines are consecutive in a seeded history.
	return run, span.first + span.count*8/10, span, nil
}
