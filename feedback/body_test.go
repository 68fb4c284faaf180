package feedback

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 500) // 500 characters, 1000 bytes
	tests := []struct {
		name  string
		body  string
		field string // the field the error names; "-" when valid
	}{
		{"rating only", `{"rating": 5}`, "-"},
		{"everything", `{"rating": 4, "answers": {"SQD0": 5, "SQD1": 4, "SQD2": 3, "SQD3": 2, "SQD4": 1, "SQD5": null, "SQD6": 5, "SQD7": 5, "SQD8": 4}, "comment": "Mabilis po."}`, "-"},
		{"some answers", `{"rating": 1, "answers": {"SQD1": 1}}`, "-"},
		{"answers null", `{"rating": 3, "answers": null}`, "-"},
		{"comment of 500 characters", `{"rating": 3, "comment": "` + long + `"}`, "-"},
		{"empty comment", `{"rating": 3, "comment": ""}`, "-"},
		{"no rating", `{"answers": {"SQD0": 5}}`, "rating"},
		{"rating null", `{"rating": null}`, "rating"},
		{"rating 0", `{"rating": 0}`, "rating"},
		{"rating 6", `{"rating": 6}`, "rating"},
		{"rating 4.5", `{"rating": 4.5}`, "rating"},
		{"rating string", `{"rating": "5"}`, "rating"},
		{"rating object", `{"rating": {"value": 5}}`, "rating"},
		{"rating huge", `{"rating": 1e40}`, "rating"},
		{"answer 0", `{"rating": 3, "answers": {"SQD3": 0}}`, "answers.SQD3"},
		{"answer 6", `{"rating": 3, "answers": {"SQD8": 6}}`, "answers.SQD8"},
		{"answer string", `{"rating": 3, "answers": {"SQD2": "agree"}}`, "answers.SQD2"},
		{"answer array", `{"rating": 3, "answers": {"SQD2": [5]}}`, "answers.SQD2"},
		{"answers array", `{"rating": 3, "answers": [5, 4]}`, "answers"},
		{"answers number", `{"rating": 3, "answers": 5}`, "answers"},
		{"unknown question", `{"rating": 3, "answers": {"SQD9": 5}}`, "answers"},
		{"question in lower case", `{"rating": 3, "answers": {"sqd1": 5}}`, "answers"},
		{"question twice", `{"rating": 3, "answers": {"SQD1": 5, "SQD1": 1}}`, "answers.SQD1"},
		{"unknown field", `{"rating": 3, "stars": 5}`, ""},
		{"field in upper case", `{"RATING": 3}`, ""},
		{"rating twice", `{"rating": 1, "rating": 5}`, "rating"},
		{"comment of 501 characters", `{"rating": 3, "comment": "` + long + `x"}`, "comment"},
		{"comment number", `{"rating": 3, "comment": 5}`, "comment"},
		{"comment object", `{"rating": 3, "comment": {}}`, "comment"},
		{"comment with NUL", `{"rating": 3, "comment": "a\u0000b"}`, "comment"},
		{"array", `[{"rating": 3}]`, ""},
		{"string", `"rating"`, ""},
		{"empty", ``, ""},
		{"truncated", `{"rating": 3`, ""},
		{"trailing data", `{"rating": 3} {"rating": 4}`, ""},
		{"not JSON", `rating=3`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Decode([]byte(tt.body))
			if tt.field == "-" {
				if err != nil {
					t.Fatalf("Decode(%s) = %v, want it accepted", tt.body, err)
				}
				if b.Rating == nil {
					t.Fatalf("Decode(%s): no rating", tt.body)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Decode(%s) = %+v, %v; want a *ValidationError", tt.body, b, err)
			}
			if ve.Field != tt.field {
				t.Fatalf("Decode(%s): field %q (%s), want %q", tt.body, ve.Field, ve.Message, tt.field)
			}
			if tt.field != "" && !strings.Contains(ve.Message, tt.field) {
				t.Fatalf("Decode(%s): message %q does not name %s", tt.body, ve.Message, tt.field)
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	t.Parallel()
	b, err := Decode([]byte(`{"rating": 4, "answers": {"SQD0": 5, "SQD5": null, "SQD8": 2}, "comment": "Salamat"}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 9, 30, 0, 0, time.FixedZone("PHT", 8*3600))
	f := New("0e78ab8f-0000-4000-8000-000000000001", 7, b, now)
	if f.Rating != 4 || f.Comment != "Salamat" || f.InstitutionID != 7 || !f.CreatedAt.Equal(now) || f.CreatedAt.Location() != time.UTC {
		t.Fatalf("New = %+v", f)
	}
	list := f.Answers.List()
	for i, want := range []int{5, 0, 0, 0, 0, 0, 0, 0, 2} {
		if got := list[i]; (want == 0) != (got == nil) || (got != nil && *got != want) {
			t.Errorf("%s = %v, want %d (0: null)", Questions[i], got, want)
		}
	}
}
