// Package readme holds, in readme_test.go, the Go code shown in the
// repository's README.md, so that the README's examples compile and run;
// a test there checks that every Go block of the README appears verbatim
// in a compiled file of examples/.
package readme
