package feedback

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestDecodeAgainstModel builds random bodies from parts whose validity is
// known by construction (the reference model: a body is valid when every
// part is), writes them as JSON, and checks that Decode accepts exactly
// the valid ones and keeps their values.
func TestDecodeAgainstModel(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(14, 2026))
	type part struct {
		json  string // the value as JSON, "" to leave the key out
		valid bool
	}
	score := func() part {
		switch rng.IntN(8) {
		case 0:
			return part{"0", false}
		case 1:
			return part{fmt.Sprint(6 + rng.IntN(100)), false}
		case 2:
			return part{`"3"`, false}
		case 3:
			return part{"2.5", false}
		default:
			return part{fmt.Sprint(1 + rng.IntN(5)), true}
		}
	}
	for i := range 3000 {
		var fields []string
		valid := true
		add := func(key string, p part) {
			if p.json != "" {
				fields = append(fields, fmt.Sprintf("%q: %s", key, p.json))
			}
			valid = valid && p.valid
		}
		// rating: required
		if rng.IntN(10) == 0 {
			add("rating", part{"", false})
		} else {
			add("rating", score())
		}
		// answers: optional; each question optional, null allowed
		if rng.IntN(3) > 0 {
			var qs []string
			answersValid := true
			for _, q := range Questions {
				switch rng.IntN(4) {
				case 0: // left out
				case 1:
					qs = append(qs, fmt.Sprintf("%q: null", q))
				default:
					p := score()
					qs = append(qs, fmt.Sprintf("%q: %s", q, p.json))
					answersValid = answersValid && p.valid
				}
			}
			if rng.IntN(15) == 0 {
				qs = append(qs, `"SQD9": 3`)
				answersValid = false
			}
			rng.Shuffle(len(qs), func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
			add("answers", part{"{" + strings.Join(qs, ", ") + "}", answersValid})
		}
		// comment: optional, 0..500 characters
		if rng.IntN(2) == 0 {
			n := rng.IntN(520)
			c, _ := json.Marshal(strings.Repeat("ñ", n))
			add("comment", part{string(c), n <= MaxCommentLength})
		}
		if rng.IntN(20) == 0 {
			add("extra", part{"1", false})
		}
		rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
		body := "{" + strings.Join(fields, ", ") + "}"

		b, err := Decode([]byte(body))
		if (err == nil) != valid {
			t.Fatalf("case %d: Decode(%s) = %v; the model says valid=%v", i, body, err, valid)
		}
		if err != nil {
			continue
		}
		// Accepted: it must round-trip to the same values.
		var want, got map[string]any
		_ = json.Unmarshal([]byte(body), &want)
		out, _ := json.Marshal(b)
		_ = json.Unmarshal(out, &got)
		if fmt.Sprint(want["rating"]) != fmt.Sprint(got["rating"]) {
			t.Fatalf("case %d: rating %v, want %v", i, got["rating"], want["rating"])
		}
		if wa, ok := want["answers"].(map[string]any); ok {
			ga := got["answers"].(map[string]any)
			for _, q := range Questions {
				if fmt.Sprint(wa[q]) != fmt.Sprint(ga[q]) {
					t.Fatalf("case %d: %s = %v, want %v", i, q, ga[q], wa[q])
				}
			}
		}
		if c, _ := want["comment"].(string); c != b.Comment {
			t.Fatalf("case %d: comment changed", i)
		}
	}
}
