package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

// refHMAC is HMAC-SHA256 (RFC 2104) written out from SHA-256, so the
// reference below does not share crypto/hmac with the code under test.
func refHMAC(key, msg []byte) []byte {
	const block = 64
	if len(key) > block {
		k := sha256.Sum256(key)
		key = k[:]
	}
	k := make([]byte, block)
	copy(k, key)
	inner, outer := make([]byte, block), make([]byte, block)
	for i := range k {
		inner[i] = k[i] ^ 0x36
		outer[i] = k[i] ^ 0x5c
	}
	ih := sha256.Sum256(append(inner, msg...))
	oh := sha256.Sum256(append(outer, ih[:]...))
	return oh[:]
}

// refOrder recomputes a draw's order from its published data only (the
// seed's hex and the held list), following the contract's words, with its
// own arithmetic: big-endian bytes by hand and the modulo in math/big.
func refOrder(seedHex string, held []string) ([]string, error) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil {
		return nil, err
	}
	order := append([]string(nil), held...)
	for i := len(order) - 1; i > 0; i-- {
		msg := make([]byte, 8)
		for b := 0; b < 8; b++ {
			msg[7-b] = byte(uint64(i) >> (8 * b))
		}
		first8 := new(big.Int).SetBytes(refHMAC(seed, msg)[:8])
		j := int(new(big.Int).Mod(first8, big.NewInt(int64(i+1))).Int64())
		order[i], order[j] = order[j], order[i]
	}
	return order, nil
}

func seedFrom(r *rand.Rand) []byte {
	seed := make([]byte, DrawSeedSize)
	for i := range seed {
		seed[i] = byte(r.Uint32())
	}
	return seed
}

func TestDrawRecomputedFromPublishedData(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(12, 1))
	for _, n := range []int{0, 1, 2, 3, 7, 40, 300} {
		seed := seedFrom(r)
		ids := make([]string, n)
		for k := range ids {
			ids[k] = fmt.Sprintf("%08x-0000-4000-8000-%012x", r.Uint32(), k)
		}
		before := NewDraw(seed)
		drawn, pub, err := DrawTickets(seed, ids)
		if err != nil {
			t.Fatal(err)
		}
		if pub.Commitment != before.Commitment || before.Seed != nil {
			t.Fatalf("n=%d: the commitment changed between window and draw, or the seed leaked early", n)
		}
		// The citizen's check: sha256(seed) == commitment.
		seedBytes, _ := hex.DecodeString(*pub.Seed)
		if sum := sha256.Sum256(seedBytes); hex.EncodeToString(sum[:]) != pub.Commitment {
			t.Fatalf("n=%d: sha256(seed) does not match the commitment", n)
		}
		// held: the digests of the held ids, sorted ascending.
		var wantHeld []string
		for _, id := range ids {
			s := sha256.Sum256([]byte(id))
			wantHeld = append(wantHeld, hex.EncodeToString(s[:]))
		}
		sort.Strings(wantHeld)
		if strings.Join(pub.Held, ",") != strings.Join(wantHeld, ",") {
			t.Fatalf("n=%d: held = %v, want %v", n, pub.Held, wantHeld)
		}
		want, err := refOrder(*pub.Seed, pub.Held)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(pub.Order, ","); got != strings.Join(want, ",") {
			t.Fatalf("n=%d: order = %v, the reference recomputes %v", n, pub.Order, want)
		}
		// Tickets are issued in the published order.
		for k, id := range drawn {
			if s := sha256.Sum256([]byte(id)); hex.EncodeToString(s[:]) != pub.Order[k] {
				t.Fatalf("n=%d: ticket %d of the issue order is not order[%d]", n, k, k)
			}
		}
		if err := VerifyDraw(pub); err != nil {
			t.Fatalf("n=%d: VerifyDraw: %v", n, err)
		}
	}
}

// TestDrawKnownVector pins the algorithm to a vector computed outside Go,
// with Python's hashlib and hmac:
//
//	seed = bytes(range(32)); held = sorted(sha256(f"ticket-{k}") for k in range(5))
//	for i in range(4, 0, -1): j = int.from_bytes(hmac(seed, i.to_bytes(8, "big"), sha256)[:8], "big") % (i + 1); swap
func TestDrawKnownVector(t *testing.T) {
	t.Parallel()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	ids := []string{"ticket-0", "ticket-1", "ticket-2", "ticket-3", "ticket-4"}
	_, pub, err := DrawTickets(seed, ids)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pub.Commitment, "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"; got != want {
		t.Errorf("commitment = %s, want %s", got, want)
	}
	want := []string{
		"737ce60fccf9da889f4605c0a20479b502eb8ed97e7bf3b5db1295ccd350b1bb",
		"dd7bbd015231cb79511479efe7cf2e7ab637ba610b4148c96ef2e5bab07ee631",
		"e2dee88df5463dc7b5408011bacbb1f3d89fa7ac2e1065857393eddff8d60094",
		"7c1696c142c892af006091282434503b7df22d4527c40064d22003f1cea2cb8b",
		"f7ff995951d4920ad9e322c26aae2cf8a71970b198b6b1e99bc16e4d85715c65",
	}
	if got := strings.Join(pub.Order, ","); got != strings.Join(want, ",") {
		t.Errorf("order = %v, want %v", pub.Order, want)
	}
}

func TestDrawVerifyRejectsTampering(t *testing.T) {
	t.Parallel()
	seed := seedFrom(rand.New(rand.NewPCG(3, 4)))
	_, pub, err := DrawTickets(seed, []string{"a", "b", "c", "d", "e", "f"})
	if err != nil {
		t.Fatal(err)
	}
	swapped := pub
	swapped.Order = append([]string(nil), pub.Order...)
	swapped.Order[0], swapped.Order[1] = swapped.Order[1], swapped.Order[0]
	otherSeed := pub
	s := strings.Repeat("00", 32)
	otherSeed.Seed = &s
	unsorted := pub
	unsorted.Held = append([]string(nil), pub.Held...)
	unsorted.Held[0], unsorted.Held[5] = unsorted.Held[5], unsorted.Held[0]
	for name, d := range map[string]Draw{"swapped order": swapped, "other seed": otherSeed, "unsorted held": unsorted, "no seed": NewDraw(seed)} {
		if err := VerifyDraw(d); err == nil {
			t.Errorf("%s: VerifyDraw accepted it", name)
		}
	}
	if _, _, err := DrawTickets(seed[:31], []string{"a"}); err == nil {
		t.Error("a 31-byte seed was accepted")
	}
	if _, _, err := DrawTickets(seed, []string{"a", "a"}); err == nil {
		t.Error("a ticket held twice was accepted")
	}
}

func TestDrawSeed(t *testing.T) {
	t.Parallel()
	a, err := NewDrawSeed()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewDrawSeed()
	if len(a) != DrawSeedSize || bytes.Equal(a, b) {
		t.Fatalf("seeds %x and %x: want two different %d-byte seeds", a, b, DrawSeedSize)
	}
	if _, err := readDrawSeed(bytes.NewReader(make([]byte, 10))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short random source: err = %v, want unexpected EOF", err)
	}
}

// Chi-square critical values at significance 0.001 (standard tables): a
// fair draw exceeds them one run in a thousand. The seeds come from a
// seeded generator, so each run of the test sees the same draws and the
// result is not flaky; the threshold says how unlucky that fixed sample
// would have to be for a fair shuffle to fail.
const (
	chi2Crit25 = 52.620 // 25 degrees of freedom
	chi2Crit23 = 49.728 // 23 degrees of freedom
)

// positionChi2 draws a pre-queue of n tickets `draws` times with seeds
// from r and returns the chi-square statistic of the n x n table (held
// ticket, drawn position) against the uniform expectation draws/n per cell.
// Rows and columns both sum to draws, so it has (n-1)^2 degrees of freedom.
func positionChi2(n, draws int, r *rand.Rand, order func(seed []byte, held []string) []string) float64 {
	held := make([]string, n)
	for k := range held {
		held[k] = HeldDigest(fmt.Sprintf("held-%d", k))
	}
	sort.Strings(held)
	index := map[string]int{}
	for k, h := range held {
		index[h] = k
	}
	counts := make([][]int, n)
	for k := range counts {
		counts[k] = make([]int, n)
	}
	for range draws {
		for pos, h := range order(seedFrom(r), held) {
			counts[index[h]][pos]++
		}
	}
	exp := float64(draws) / float64(n)
	var chi2 float64
	for _, row := range counts {
		for _, c := range row {
			chi2 += (float64(c) - exp) * (float64(c) - exp) / exp
		}
	}
	return chi2
}

func TestDrawEveryPositionEquallyLikely(t *testing.T) {
	t.Parallel()
	const n, draws = 6, 12000
	chi2 := positionChi2(n, draws, rand.New(rand.NewPCG(2026, 12)), DrawOrder)
	t.Logf("%d draws of %d held tickets: chi-square %.2f (df 25, critical %.3f at 0.001)", draws, n, chi2, chi2Crit25)
	if chi2 > chi2Crit25 {
		t.Fatalf("chi-square %.2f > %.3f: some positions are more likely than others", chi2, chi2Crit25)
	}
}

func TestDrawEveryOrderEquallyLikely(t *testing.T) {
	t.Parallel()
	// Stronger than positions: all 24 orders of 4 held tickets.
	const n, draws = 4, 24000
	held := []string{"a", "b", "c", "d"}
	counts := map[string]int{}
	r := rand.New(rand.NewPCG(7, 2026))
	for range draws {
		counts[strings.Join(DrawOrder(seedFrom(r), held), "")]++
	}
	if len(counts) != 24 {
		t.Fatalf("%d distinct orders of 4 tickets drawn, want all 24", len(counts))
	}
	exp := float64(draws) / 24
	var chi2 float64
	for _, c := range counts {
		chi2 += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	t.Logf("%d draws of %d held tickets: chi-square over the 24 orders %.2f (df 23, critical %.3f at 0.001)", draws, n, chi2, chi2Crit23)
	if chi2 > chi2Crit23 {
		t.Fatalf("chi-square %.2f > %.3f: some orders are more likely than others", chi2, chi2Crit23)
	}
}

// TestDrawChiSquareHasPower shows the test above can fail: the classic
// wrong shuffle (j drawn from all n places at every step) is biased, and the
// same statistic on the same number of draws rejects it.
func TestDrawChiSquareHasPower(t *testing.T) {
	t.Parallel()
	naive := func(seed []byte, held []string) []string {
		order := append([]string(nil), held...)
		n := uint64(len(order))
		for i := len(order) - 1; i >= 1; i-- {
			msg := binary.BigEndian.AppendUint64(nil, uint64(i))
			j := binary.BigEndian.Uint64(refHMAC(seed, msg)[:8]) % n // mod n, not mod i+1: biased
			order[i], order[j] = order[j], order[i]
		}
		return order
	}
	chi2 := positionChi2(6, 12000, rand.New(rand.NewPCG(2026, 12)), naive)
	if math.IsNaN(chi2) || chi2 <= chi2Crit25 {
		t.Fatalf("the biased shuffle scored chi-square %.2f <= %.3f: the test has no power", chi2, chi2Crit25)
	}
	t.Logf("the biased shuffle scores %.2f", chi2)
}
