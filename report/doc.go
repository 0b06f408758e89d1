// Package report writes the files and reports Locust users know from a load
// test's statistics: the four CSV files of --csv (byte for byte Locust's
// headers and number formats), the JSON of --json and --json-file, one
// self-contained HTML report (--html) with charts over time, and a
// before/after comparison with an earlier run (--compare) that flags only
// changes beyond a tolerance and statistically significant (see Compare).
//
// Use it from the command line by adding the extension to a Command:
//
//	th := threshold.NewExtension()
//	cmd := &locust.Command{
//		Users:      []*locust.UserType{website},
//		Extensions: []locust.Extension{th, report.NewExtension(report.WithThresholds(th))},
//	}
//	os.Exit(cmd.Run(context.Background(), os.Args[1:]))
//
// or from code with the plain functions: WriteStatsCSV, WriteStatsHistoryHeader,
// WriteStatsHistoryRows, WriteFailuresCSV, WriteExceptionsCSV, WriteJSON,
// NewDocument and WriteHTML read a locust.Snapshot and never change it;
// WriteDocument, ReadDocument and ReadDocumentFile write and read the
// --json-file document; Compare compares two documents and WriteComparison
// prints the result.
//
// The functions are safe for concurrent use; the data types are plain data,
// safe to copy and to read from many goroutines; an Extension serves one
// Command run at a time (see its documentation).
//
// Times follow Locust's units: milliseconds in CSV and JSON, epoch seconds
// for the timestamps under Locust's keys (the CSV Timestamp column,
// start_time, last_request_timestamp, the keys of num_reqs_per_sec); the
// document's own times (start, end, first_seen, last_seen, the history's
// time) are RFC 3339. Percentiles come from the core's HDR histograms (exact to
// three significant digits) rather than Locust's rounded buckets, so they
// can differ slightly from what Python Locust would print for the same
// samples.
package report
