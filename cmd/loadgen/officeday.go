package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/queueless/queueless/loadtest/officeday"
)

// officeDay replays simulated office days against the wait estimators (in
// simulated time, calling queue's estimate functions directly: no server)
// and prints how far what each ticket was told at join fell from its real
// wait. It fails when the v1.1 estimator misses its targets.
func officeDay(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen officeday", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1001, "seed of the first day; day k uses seed+k")
	days := fs.Int("days", 30, "days to replay (1..1000)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *days < 1 || *days > 1000 {
		return errors.New("-days must be from 1 to 1000")
	}
	rep, _, err := officeday.Run(officeday.DefaultConfig, *seed, *days)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			officeday.Report
			Checks []officeday.Check `json:"checks"`
		}{rep, rep.Checks()}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "office day replay, seeds %d..%d (simulated time, estimators called directly)\n", *seed, *seed+uint64(*days)-1)
		rep.WriteText(stdout)
	}
	if !rep.OK() {
		return errors.New("some estimate targets were missed")
	}
	return nil
}
