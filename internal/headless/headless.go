// Package headless opens a local HTML file in headless Chromium and reports what the browser
// made of it: console errors and uncaught exceptions, every request the page made, the nodes
// and bars of a runnet report as laid out, and a screenshot. Tests use it to check that a
// report renders; scripts/report-screenshot uses it for the README's picture.
//
// Chromium runs with a fresh profile and with its background networking off: on a machine
// with no network it otherwise stalls on its own update and sync requests.
package headless

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ErrNoChromium is returned by Find when no Chromium is installed.
var ErrNoChromium = errors.New("chromium is not installed (Debian: apt-get install chromium; or set RUNNET_CHROMIUM to its path)")

// Find returns the path of Chromium: $RUNNET_CHROMIUM, else /usr/bin/chromium, else chromium
// or chromium-browser on PATH.
func Find() (string, error) {
	if p := os.Getenv("RUNNET_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("RUNNET_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Options say how to look at the page.
type Options struct {
	// Width and Height are the viewport's CSS pixels (default 1100 × 900).
	Width, Height int
	// Scale is the device scale factor (default 1).
	Scale float64
	// Dark asks for prefers-color-scheme: dark.
	Dark bool
	// Screenshot takes a PNG of the whole page (FullPage) or of the viewport.
	Screenshot bool
	FullPage   bool
}

// Page is what the browser made of a report.
type Page struct {
	// Title is document.title.
	Title string
	// Errors are console errors, uncaught exceptions and error entries of the browser log.
	Errors []string
	// Requests are the URLs the page asked for, other than itself.
	Requests []string
	// Scripts is how many <script> elements the page has.
	Scripts int
	// Nodes are the nodes of the report's graph (svg.graph g.node) as laid out.
	Nodes []Node
	// Edges is how many edges the graph draws.
	Edges int
	// GraphWidth and GraphHeight are the graph's laid out size.
	GraphWidth, GraphHeight float64
	// Bars are the report's usage bars (svg.bar).
	Bars []Bar
	// Background is the computed background colour of the body ("rgb(r, g, b)").
	Background string
	// PrintBackground is the same with print media emulated.
	PrintBackground string
	// PNG is the screenshot, when asked for.
	PNG []byte
}

// Node is a node of the graph.
type Node struct {
	Kind   string  `json:"kind"`
	Key    string  `json:"key"`
	State  string  `json:"state"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// Bar is a usage bar: its track and the widths of its segments by name.
type Bar struct {
	Key   string             `json:"key"`
	Track float64            `json:"track"`
	Segs  map[string]float64 `json:"segs"`
}

// measureJS gathers what Page reports, in the page.
const measureJS = `(() => {
  const rect = el => el.getBoundingClientRect();
  const svg = document.querySelector('svg.graph');
  const nodes = [...document.querySelectorAll('svg.graph g.node')].map(g => {
    const r = rect(g);
    return {kind: g.dataset.kind || '', key: g.dataset.key || '', state: g.dataset.state || '', width: r.width, height: r.height};
  });
  const bars = [...document.querySelectorAll('svg.bar')].map(b => {
    const t = b.querySelector('.track');
    const segs = {};
    for (const s of b.querySelectorAll('rect.seg')) segs[s.dataset.seg] = rect(s).width;
    return {key: b.dataset.subnet || '', track: t ? rect(t).width : 0, segs};
  });
  return {
    title: document.title,
    scripts: document.scripts.length,
    nodes, bars,
    edges: document.querySelectorAll('svg.graph path.edge').length,
    graphWidth: svg ? rect(svg).width : 0,
    graphHeight: svg ? rect(svg).height : 0,
    background: getComputedStyle(document.body).backgroundColor,
  };
})()`

type measured struct {
	Title       string  `json:"title"`
	Scripts     int     `json:"scripts"`
	Nodes       []Node  `json:"nodes"`
	Bars        []Bar   `json:"bars"`
	Edges       int     `json:"edges"`
	GraphWidth  float64 `json:"graphWidth"`
	GraphHeight float64 `json:"graphHeight"`
	Background  string  `json:"background"`
}

// Browser is a headless Chromium with a fresh profile.
type Browser struct {
	ctx     context.Context // the browser's first tab; new tabs derive from it
	cancel  func()
	profile string
}

// Start starts Chromium (chromium: its path, from Find). Close stops it.
func Start(ctx context.Context, chromium string) (*Browser, error) {
	profile, err := os.MkdirTemp("", "runnet-chromium-")
	if err != nil {
		return nil, err
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(ctx),
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	b := &Browser{ctx: bctx, profile: profile, cancel: func() { cancelBrowser(); cancelAlloc() }}
	// Run the browser now, bounded by ctx (the browser itself lives until Close).
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err = <-started:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("start chromium (%s): %w", chromium, err)
	}
	return b, nil
}

// Close stops the browser and removes its profile.
func (b *Browser) Close() {
	b.cancel()
	removeAll(b.profile)
}

// Open starts Chromium, loads the file at path and reports what it shows; the browser is
// gone when it returns.
func Open(ctx context.Context, chromium, path string, opt Options) (*Page, error) {
	b, err := Start(ctx, chromium)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.Open(ctx, path, opt)
}

// Open loads the file at path in a new tab and reports what it shows.
func (b *Browser) Open(ctx context.Context, path string, opt Options) (*Page, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	if opt.Width == 0 {
		opt.Width = 1100
	}
	if opt.Height == 0 {
		opt.Height = 900
	}
	if opt.Scale == 0 {
		opt.Scale = 1
	}
	tabCtx, cancelTab := chromedp.NewContext(b.ctx)
	defer cancelTab()
	stop := context.AfterFunc(ctx, cancelTab) // ctx bounds this page, not the browser
	defer stop()

	self := (&url.URL{Scheme: "file", Path: abs}).String()
	var mu sync.Mutex
	p := &Page{}
	if err := chromedp.Listen(tabCtx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				p.Errors = append(p.Errors, "console."+string(e.Type)+": "+argsText(e.Args))
			}
		case *runtime.EventExceptionThrown:
			p.Errors = append(p.Errors, "exception: "+exceptionText(e.ExceptionDetails))
		case *log.EventEntryAdded:
			if e.Entry != nil && e.Entry.Level == log.EntryLevelError {
				p.Errors = append(p.Errors, "log ("+string(e.Entry.Source)+"): "+e.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			if e.Request != nil && e.Request.URL != self {
				p.Requests = append(p.Requests, e.Request.URL)
			}
		}
	}); err != nil {
		return nil, fmt.Errorf("open a tab: %w", err)
	}

	scheme := "light"
	if opt.Dark {
		scheme = "dark"
	}
	media := func(kind string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Media:    kind,
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			})
			return err
		})
	}
	if err := chromedp.Do(tabCtx,
		chromedp.EmulateViewport(int64(opt.Width), int64(opt.Height), chromedp.EmulateScale(opt.Scale)),
		media(""),
		chromedp.Navigate(self),
	); err != nil {
		return nil, fmt.Errorf("load %s: %w", self, err)
	}
	m, err := chromedp.Run(tabCtx, chromedp.Evaluate[measured](measureJS))
	if err != nil {
		return nil, fmt.Errorf("measure %s: %w", self, err)
	}
	if opt.Screenshot {
		shot, err := chromedp.Run(tabCtx, screenshot(opt.FullPage))
		if err != nil {
			return nil, fmt.Errorf("screenshot %s: %w", self, err)
		}
		p.PNG = shot
	}
	// The same page as printed.
	if err := chromedp.Do(tabCtx, media("print")); err != nil {
		return nil, fmt.Errorf("emulate print media: %w", err)
	}
	printBG, err := chromedp.Run(tabCtx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil {
		return nil, fmt.Errorf("measure %s as printed: %w", self, err)
	}
	// A last round trip: the events the page caused before it have been delivered.
	if _, err := chromedp.Run(tabCtx, chromedp.Evaluate[int](`0`)); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	p.Title, p.Scripts, p.Nodes, p.Bars, p.Edges = m.Title, m.Scripts, m.Nodes, m.Bars, m.Edges
	p.GraphWidth, p.GraphHeight, p.Background, p.PrintBackground = m.GraphWidth, m.GraphHeight, m.Background, printBG
	return p, nil
}

// screenshot captures the viewport, or the whole page (its content size) with fullPage.
func screenshot(fullPage bool) chromedp.Action[[]byte] {
	return func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		params := page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng, FromSurface: ptr(true)}
		if fullPage {
			lm, err := cdp.Call(ctx, t, page.GetLayoutMetrics, cdp.Empty{})
			if err != nil {
				return nil, err
			}
			size := lm.CSSContentSize
			if size == nil {
				return nil, errors.New("the browser gave no content size")
			}
			params.CaptureBeyondViewport = ptr(true)
			params.Clip = &page.Viewport{X: 0, Y: 0, Width: math.Ceil(size.Width), Height: math.Ceil(size.Height), Scale: 1}
		}
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, params)
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	}
}

func ptr[T any](v T) *T { return &v }

func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a == nil:
		case len(a.Value) > 0:
			parts = append(parts, strings.Trim(string(a.Value), `"`))
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "unknown"
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}

// removeAll removes Chromium's profile; its child processes can still write there for a
// moment after the browser stops, so it tries a few times.
func removeAll(dir string) {
	for range 20 {
		if err := os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Variance is the variance of the luminance (0-255) of a PNG's pixels, sampled on a grid of
// at most 200,000 points: 0 for a blank image, in the hundreds or more for a drawn page.
func Variance(pngData []byte) (float64, image.Point, error) {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return 0, image.Point{}, fmt.Errorf("decode the screenshot: %w", err)
	}
	b := img.Bounds()
	step := max(1, int(math.Sqrt(float64(b.Dx()*b.Dy())/200000)))
	var n, sum, sumSq float64
	for y := b.Min.Y; y < b.Max.Y; y += step {
		for x := b.Min.X; x < b.Max.X; x += step {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(bl)) / 257
			n++
			sum += l
			sumSq += l * l
		}
	}
	if n == 0 {
		return 0, b.Size(), nil
	}
	mean := sum / n
	return sumSq/n - mean*mean, b.Size(), nil
}
