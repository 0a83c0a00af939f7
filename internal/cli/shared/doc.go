// Package shared holds what several of runnet's commands use: the words of the command line
// for what the domain suggests (Command, Render, ErrorText), and the phrases messages share
// (DescribeVPC, Noun, Plural, ...). It depends on no command, so every command can use it.
package shared
