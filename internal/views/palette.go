package views

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ThemeColors are one theme's colours. static/app.css defines the same
// values as custom properties (--bg, --text, --good-fg, …); a test checks
// the stylesheet against this table and every text/background pair in it
// against WCAG AA (4.5:1).
type ThemeColors struct {
	Bg, Surface, Text, Muted, Link, Border string
	// Tones are the status badge colours: Fg text on Bg fill. Fg is also
	// used bare, on the page and surface backgrounds (log errors, chart
	// marks), so it must read on those too.
	Tones map[Tone]ToneColors
}

// ToneColors are a status tone's text and fill.
type ToneColors struct{ Fg, Bg string }

// Palette is the light theme (default) and the dark one (used when the
// system prefers a dark colour scheme).
var Palette = map[string]ThemeColors{
	"light": {
		Bg: "#ffffff", Surface: "#f5f7f9", Text: "#1b1f24", Muted: "#55606b", Link: "#0a58a8", Border: "#d4dae0",
		Tones: map[Tone]ToneColors{
			ToneGood:    {Fg: "#116329", Bg: "#dcf6e3"},
			ToneBad:     {Fg: "#b3122b", Bg: "#ffe9e7"},
			ToneWarn:    {Fg: "#7a4a00", Bg: "#fff3c4"},
			ToneInfo:    {Fg: "#0b4f9c", Bg: "#ddeeff"},
			ToneNeutral: {Fg: "#4a535d", Bg: "#e9edf1"},
		},
	},
	"dark": {
		Bg: "#0f1318", Surface: "#171c23", Text: "#e6ebf0", Muted: "#9ba6b1", Link: "#6cb0ff", Border: "#2f3742",
		Tones: map[Tone]ToneColors{
			ToneGood:    {Fg: "#5fd37a", Bg: "#12291b"},
			ToneBad:     {Fg: "#ff8a80", Bg: "#3a1517"},
			ToneWarn:    {Fg: "#e8b93f", Bg: "#2f250c"},
			ToneInfo:    {Fg: "#80bdff", Bg: "#102a47"},
			ToneNeutral: {Fg: "#b4bec8", Bg: "#242b33"},
		},
	},
}

// cssVars are the custom properties a theme defines, by name.
func (c ThemeColors) cssVars() map[string]string {
	v := map[string]string{
		"--bg": c.Bg, "--surface": c.Surface, "--text": c.Text, "--muted": c.Muted,
		"--link": c.Link, "--border": c.Border,
	}
	for tone, tc := range c.Tones {
		v["--"+string(tone)+"-fg"] = tc.Fg
		v["--"+string(tone)+"-bg"] = tc.Bg
	}
	return v
}

// textPairs are the foreground/background pairs text is drawn with, named
// for test messages.
func (c ThemeColors) textPairs() map[string][2]string {
	p := map[string][2]string{}
	for _, bg := range []struct{ name, c string }{{"bg", c.Bg}, {"surface", c.Surface}} {
		p["text on "+bg.name] = [2]string{c.Text, bg.c}
		p["muted on "+bg.name] = [2]string{c.Muted, bg.c}
		p["link on "+bg.name] = [2]string{c.Link, bg.c}
		for tone, tc := range c.Tones {
			p[string(tone)+" fg on "+bg.name] = [2]string{tc.Fg, bg.c}
		}
	}
	for tone, tc := range c.Tones {
		p[string(tone)+" fg on "+string(tone)+" bg"] = [2]string{tc.Fg, tc.Bg}
		// A highlighted log line: body text on a tone's fill.
		p["text on "+string(tone)+" bg"] = [2]string{c.Text, tc.Bg}
	}
	return p
}

// parseHex reads #rrggbb.
func parseHex(s string) ([3]float64, error) {
	var rgb [3]float64
	h, ok := strings.CutPrefix(s, "#")
	if !ok || len(h) != 6 {
		return rgb, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	for i := range 3 {
		n, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return rgb, fmt.Errorf("colour %q: %w", s, err)
		}
		rgb[i] = float64(n) / 255
	}
	return rgb, nil
}

// luminance is WCAG 2's relative luminance of an sRGB colour.
func luminance(rgb [3]float64) float64 {
	lin := func(c float64) float64 {
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(rgb[0]) + 0.7152*lin(rgb[1]) + 0.0722*lin(rgb[2])
}

// contrastRatio is WCAG 2's (L1 + 0.05) / (L2 + 0.05), from 1 to 21.
func contrastRatio(fg, bg string) (float64, error) {
	a, err := parseHex(fg)
	if err != nil {
		return 0, err
	}
	b, err := parseHex(bg)
	if err != nil {
		return 0, err
	}
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05), nil
}
