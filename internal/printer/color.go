package printer

import (
	"regexp"
	"strings"
)

// Colour, on a terminal only: state words (READY, failed, migrating...) in the state and
// status columns of tables, and the PASS/FAIL/WARN of check lists. ColorWanted says when.

// ANSI colours.
const (
	ansiGreen  = "\x1b[32m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

// ColorWanted reports whether output to a writer should be coloured: only when it is a
// terminal, and never when NO_COLOR is set (https://no-color.org) or TERM is dumb.
func ColorWanted(isTerminal bool, getenv func(string) string) bool {
	return isTerminal && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// colorColumns are the table columns whose cells are coloured by their first word.
var colorColumns = map[string]bool{"state": true, "status": true, "outcome": true}

// wordColor maps a state word (lower case) to its colour.
var wordColor = map[string]string{
	"ready": ansiGreen, "done": ansiGreen, "pass": ansiGreen, "migrated": ansiGreen, "deleted": ansiGreen, "ok": ansiGreen,
	"failed": ansiRed, "fail": ansiRed, "error": ansiRed, "blocked": ansiRed, "locked": ansiRed,
	"warn": ansiYellow, "creating": ansiYellow, "deleting": ansiYellow, "updating": ansiYellow, "rolling": ansiYellow,
	"migrating": ansiYellow, "pending": ansiYellow, "reconciling": ansiYellow, "rolled-back": ansiYellow, "in-progress": ansiYellow,
}

// colorWord colours a cell by its first word (the cell's text is unchanged).
func colorWord(cell string) string {
	first, _, _ := strings.Cut(cell, " ")
	first = strings.TrimRight(first, ":,")
	c, ok := wordColor[strings.ToLower(first)]
	if !ok {
		return cell
	}
	return c + cell + ansiReset
}

// checkWord finds the PASS, FAIL and WARN of a check list in free text: upper case, as a
// word of its own.
var checkWord = regexp.MustCompile(`(^|\s)(PASS|FAIL|WARN)(\s)`)

// ColorText colours the check words (PASS, FAIL, WARN) of a text rendering, for text shown
// on a terminal outside a printer (a plan before a confirmation).
func ColorText(s string) string { return colorText(s) }

// colorText colours the check words of a text rendering.
func colorText(s string) string {
	return checkWord.ReplaceAllStringFunc(s, func(m string) string {
		sub := checkWord.FindStringSubmatch(m)
		return sub[1] + wordColor[strings.ToLower(sub[2])] + sub[2] + ansiReset + sub[3]
	})
}
