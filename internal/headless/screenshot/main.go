// Command screenshot takes a PNG of an HTML file in headless Chromium, for the README's
// picture of a report (see scripts/report-screenshot):
//
//	go run ./internal/headless/screenshot [-width 1000] [-height 0] [-dark] -o out.png page.html
//
// -height 0 captures the whole page; another height captures that much of its top. It fails
// when the page logs an error, makes a request, or draws nothing.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"sort"
	"time"

	"github.com/runnet-dev/runnet/internal/headless"
)

func main() {
	out := flag.String("o", "", "the PNG to write (required)")
	width := flag.Int("width", 1000, "viewport width in CSS pixels")
	height := flag.Int("height", 0, "capture this much of the page's top, in CSS pixels (0: the whole page)")
	dark := flag.Bool("dark", false, "prefers-color-scheme: dark")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: screenshot [-width N] [-height N] [-dark] -o out.png page.html")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out, *width, *height, *dark); err != nil {
		fmt.Fprintln(os.Stderr, "screenshot:", err)
		os.Exit(1)
	}
}

func run(page, out string, width, height int, dark bool) error {
	chromium, err := headless.Find()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opt := headless.Options{Width: width, Height: max(height, 600), Dark: dark, Screenshot: true, FullPage: height == 0}
	p, err := headless.Open(ctx, chromium, page, opt)
	if err != nil {
		return err
	}
	switch {
	case len(p.Errors) > 0:
		return fmt.Errorf("the page logged errors: %q", p.Errors)
	case len(p.Requests) > 0:
		return fmt.Errorf("the page made requests: %q", p.Requests)
	}
	v, size, err := headless.Variance(p.PNG)
	if err != nil {
		return err
	}
	if v < 100 {
		return fmt.Errorf("the screenshot (%v) looks blank (luminance variance %.1f)", size, v)
	}
	// Chromium's PNG is quickly compressed; the README's picture is worth the best.
	img, err := png.Decode(bytes.NewReader(p.PNG))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, quantize(img)); err != nil {
		return err
	}
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Wrote %s (%d×%d, %d bytes).\n", out, size.X, size.Y, b.Len())
	return nil
}

// quantize maps an image to a palette of its 256 most frequent colours, each pixel to the
// nearest (no dithering): a page of flat colours and anti-aliased text keeps its look, and
// the PNG shrinks to about a third.
func quantize(img image.Image) image.Image {
	b := img.Bounds()
	counts := map[color.RGBA]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			counts[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	cs := make([]color.RGBA, 0, len(counts))
	for c := range counts {
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool {
		if counts[cs[i]] != counts[cs[j]] {
			return counts[cs[i]] > counts[cs[j]]
		}
		a, z := cs[i], cs[j]
		return uint32(a.R)<<24|uint32(a.G)<<16|uint32(a.B)<<8|uint32(a.A) < uint32(z.R)<<24|uint32(z.G)<<16|uint32(z.B)<<8|uint32(z.A)
	})
	pal := make(color.Palette, 0, 256)
	for _, c := range cs[:min(256, len(cs))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(b, pal)
	nearest := map[color.RGBA]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := nearest[c]
			if !ok {
				i = uint8(pal.Index(c))
				nearest[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	return out
}
