package egressmap

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runnet-dev/runnet/internal/headless"
)

var screenshotDir = flag.String("screenshots", "", "write the browser tests' screenshots to this directory")

// The report is one file that loads nothing: no script, no link, no URL but SVG's namespace.
func TestReportSelfContained(t *testing.T) {
	for name, fx := range fixtures {
		t.Run(name, func(t *testing.T) {
			out := string(render(t, html, fx()))
			for _, bad := range []string{"<script", "<link", "<img", "<iframe", "<object", "<embed", "@import"} {
				if strings.Contains(strings.ToLower(out), bad) {
					t.Errorf("the report contains %q", bad)
				}
			}
			if u := regexp.MustCompile(`url\(\s*['"]?[^#'"\s]`).FindString(out); u != "" {
				t.Errorf("the report loads %s...", u)
			}
			if tag := regexp.MustCompile(`<[^>]*\s(src|href)=`).FindString(out); tag != "" {
				t.Errorf("the report refers to a resource: %s", tag)
			}
			urls := regexp.MustCompile(`https?://[^\s"'<>)]+`).FindAllString(out, -1)
			for _, u := range urls {
				if u != "http://www.w3.org/2000/svg" {
					t.Errorf("the report names %s", u)
				}
			}
			for _, want := range []string{"prefers-color-scheme: dark", "@media print", `<svg class="graph"`} {
				if !strings.Contains(out, want) {
					t.Errorf("the report lacks %q", want)
				}
			}
		})
	}
}

// What a name holds is text, never markup, in the page and in its SVG.
func TestReportEscapes(t *testing.T) {
	out := string(render(t, html, trickyMap()))
	for _, raw := range []string{`<script>alert`, `<img src=x`, `<b>bold</b>`} {
		if strings.Contains(out, raw) {
			t.Errorf("raw %q in the report", raw)
		}
	}
	for _, esc := range []string{`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`, `&lt;img src=x onerror=&#34;alert(1)&#34;&gt;`, `Tricky &#34;map&#34; &lt;b&gt;bold&lt;/b&gt; &amp; #35; end`} {
		if !strings.Contains(out, esc) {
			t.Errorf("escaped %q missing from the report", esc)
		}
	}
}

// Unknown costs say so; known ones are shown with their currency and source.
func TestReportCostsUnknown(t *testing.T) {
	out := string(render(t, html, fleetMap()))
	row := func(name string) string {
		i := strings.Index(out, "<b>"+name+"</b>")
		if i < 0 {
			t.Fatalf("no row for %s", name)
		}
		return out[i : i+strings.Index(out[i:], "</tr>")]
	}
	known, unknown := row("shop-connector"), row("etl-connector")
	for _, want := range []string{"24.53 USD", "41.5 Mbps", ">3<"} {
		if !strings.Contains(known, want) {
			t.Errorf("shop-connector row lacks %q:\n%s", want, known)
		}
	}
	if strings.Contains(known, "unknown") {
		t.Errorf("shop-connector's figures are known:\n%s", known)
	}
	if n := strings.Count(unknown, `<span class="unknown">unknown</span>`); n != 4 {
		t.Errorf("etl-connector row: %d unknowns, want 4 (running, throughput, cost, savings):\n%s", n, unknown)
	}
	if !strings.Contains(out, "Figures from the fixture&#39;s price list.") {
		t.Error("the source of the figures is not named")
	}
}

// TestReportInBrowser opens the reports in headless Chromium: no console error or exception,
// no request, every workload, connector and subnet drawn with a size, every bar drawn, a
// screenshot that is not blank, a dark page in dark mode and a white one printed.
func TestReportInBrowser(t *testing.T) {
	chromium, err := headless.Find()
	if errors.Is(err, headless.ErrNoChromium) {
		t.Skip("skipping the browser test: " + err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	browser, err := headless.Start(ctx, chromium)
	if err != nil {
		t.Fatal(err)
	}
	defer browser.Close()
	for _, tc := range []struct {
		name string
		dark bool
	}{{"fleet", false}, {"tricky", true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := fixtures[tc.name]()
			path := filepath.Join(t.TempDir(), tc.name+".html")
			if err := os.WriteFile(path, render(t, html, m), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := browser.Open(ctx, path, headless.Options{Dark: tc.dark, Screenshot: true, FullPage: *screenshotDir != ""})
			if err != nil {
				t.Fatal(err)
			}
			CheckRenderedReport(t, m, p)
			if *screenshotDir != "" {
				if err := os.WriteFile(filepath.Join(*screenshotDir, tc.name+".png"), p.PNG, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dark := p.Background != "rgb(255, 255, 255)"
			if dark != tc.dark {
				t.Errorf("background %s with dark mode %v", p.Background, tc.dark)
			}
			if p.PrintBackground != "rgb(255, 255, 255)" {
				t.Errorf("printed background %s, want white", p.PrintBackground)
			}
		})
	}
}

// CheckRenderedReport checks what the browser drew of m's report.
func CheckRenderedReport(t *testing.T, m Map, p *headless.Page) {
	t.Helper()
	if len(p.Errors) > 0 {
		t.Errorf("console errors: %q", p.Errors)
	}
	if len(p.Requests) > 0 {
		t.Errorf("the report made requests: %q", p.Requests)
	}
	if p.Scripts != 0 {
		t.Errorf("%d scripts in the page", p.Scripts)
	}
	if p.GraphWidth <= 0 || p.GraphHeight <= 0 {
		t.Errorf("graph is %v × %v", p.GraphWidth, p.GraphHeight)
	}
	drawn := map[string]headless.Node{}
	for _, n := range p.Nodes {
		drawn[n.Key] = n
	}
	var want, subnets int
	for _, pr := range m.Projects {
		check := func(kind, key string) {
			want++
			n, ok := drawn[key]
			switch {
			case !ok:
				t.Errorf("%s %s is not drawn", kind, key)
			case n.Kind != kind:
				t.Errorf("%s is drawn as a %s, not a %s", key, n.Kind, kind)
			case n.Width < 100 || n.Height < 20:
				t.Errorf("%s %s is drawn %v × %v", kind, key, n.Width, n.Height)
			}
		}
		for _, c := range pr.Connectors {
			check(kindConnector, c.Key)
		}
		for _, s := range pr.Subnets {
			check(kindSubnet, s.Key)
			subnets++
		}
		for _, w := range pr.Workloads {
			check(kindWorkload, w.Key)
		}
	}
	if len(p.Nodes) != want {
		t.Errorf("%d nodes drawn, want %d", len(p.Nodes), want)
	}
	if g := buildGraph(m); p.Edges != len(g.edges) {
		t.Errorf("%d edges drawn, want %d", p.Edges, len(g.edges))
	}
	if len(p.Bars) != subnets {
		t.Errorf("%d bars drawn, want one per subnet (%d)", len(p.Bars), subnets)
	}
	for _, b := range p.Bars {
		var total float64
		for _, w := range b.Segs {
			total += w
		}
		if b.Track <= 0 || total <= 0 {
			t.Errorf("bar of %s: track %v, segments %v", b.Key, b.Track, b.Segs)
		}
	}
	if len(p.PNG) > 0 {
		v, size, err := headless.Variance(p.PNG)
		if err != nil {
			t.Fatal(err)
		}
		if v < 100 || size.X < 500 || size.Y < 300 {
			t.Errorf("screenshot %v with luminance variance %.1f: blank or too small", size, v)
		}
	}
	if !bytes.Contains([]byte(p.Title), []byte(strings.Fields(m.Title)[0])) {
		t.Errorf("title %q", p.Title)
	}
}

// The summary counts each state, and tells subnets in use from proposed ones.
func TestReportSummary(t *testing.T) {
	out := string(render(t, html, fleetMap()))
	for _, want := range []string{
		"<li><b>30</b> workloads</li>", "<li><b>6</b> on Direct VPC</li>", "<li><b>16</b> to migrate</li>",
		"<li><b>3</b> blocked by a check</li>", "<li><b>5</b> without VPC</li>", "<li><b>2</b> connectors</li>",
		"<li><b>1</b> Direct VPC subnet (+1 proposed)</li>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %s", want)
		}
	}
	// The legend lists the states the map uses, and only those.
	for state, want := range map[State]bool{Migrated: true, Blocked: true, Candidate: true, Unused: false, Missing: false} {
		if got := strings.Contains(out, `<li><span class="badge state-`+string(state)); got != want {
			t.Errorf("legend lists %s: %v, want %v", state, got, want)
		}
	}
}
