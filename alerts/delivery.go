package alerts

import "fmt"

// ParseLevels validates the levels a webhook asks for ("levels": ["p1",
// "p0"]): known levels, none twice. Empty means every level. Errors are a
// *ValidationError on field "levels".
func ParseLevels(names []string) ([]Level, error) {
	out := make([]Level, 0, len(names))
	for i, n := range names {
		l := Level(n)
		if !l.Valid() {
			return nil, &ValidationError{Field: "levels", Message: fmt.Sprintf(
				"levels[%d] must be one of initiated, p2, p1, p0, not %q", i, n)}
		}
		for _, seen := range out {
			if seen == l {
				return nil, &ValidationError{Field: "levels", Message: fmt.Sprintf("levels names %q twice", n)}
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// Notifies reports whether a webhook that asked for levels (none: every
// level) hears of t. A raise or an escalation reaches the webhooks that
// asked for the level the alert now has, so that each level reaches its
// own people, once. A resolve reaches every webhook that heard of the alert
// at some level: those that asked for any level up to the one it reached.
func (t Transition) Notifies(levels []Level) bool {
	if len(levels) == 0 {
		return true
	}
	for _, l := range levels {
		switch {
		case t.Action == ActionResolve && l.rank() <= t.Alert.Level.rank():
			return true
		case t.Action != ActionResolve && l == t.Alert.Level:
			return true
		}
	}
	return false
}
