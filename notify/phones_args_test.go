package notify

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestPhonesArgsEncoding: a batch's phone job is stored as one string and
// read back as the list it was; jobs stored in the earlier form (an array
// of objects) are read too; a list that could not be read back is refused
// when written, and a damaged one when read.
func TestPhonesArgsEncoding(t *testing.T) {
	t.Parallel()
	in := phonesArgs{Phones: []phoneArgs{
		{TicketID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Phone: "09171234567"},
		{TicketID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", Phone: "09170000001"},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"list":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:09171234567,0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c:09170000001"}`
	if string(b) != want {
		t.Fatalf("stored as %s, want %s", b, want)
	}
	var out phonesArgs
	if err := json.Unmarshal(b, &out); err != nil || !slices.Equal(out.Phones, in.Phones) {
		t.Fatalf("read back %+v (%v), want %+v", out.Phones, err, in.Phones)
	}
	old := `{"phones":[{"ticket_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","phone":"09171234567"},{"ticket_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c","phone":"09170000001"}]}`
	out = phonesArgs{}
	if err := json.Unmarshal([]byte(old), &out); err != nil || !slices.Equal(out.Phones, in.Phones) {
		t.Fatalf("earlier form read as %+v (%v), want %+v", out.Phones, err, in.Phones)
	}
	if _, err := json.Marshal(phonesArgs{Phones: []phoneArgs{{TicketID: "a,b", Phone: "09171234567"}}}); err == nil {
		t.Error("a ticket id with a comma was written")
	}
	for _, bad := range []string{`{"list":"x"}`, `{"list":"a:1,"}`, `{"list":":09171234567"}`, `{"list":1}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("%s read as %+v, want an error", bad, out.Phones)
		}
	}
}
