package queue

// The fair-opening draw (API.md v1.1, "Fair opening"): the order in which the
// tickets held during the pre-queue window get their numbers at opening.
//
// How the integration uses this file:
//   - When a service's pre-queue window opens (Calendar.PrequeueWindow), the
//     draw job calls NewDrawSeed, stores the secret seed privately and
//     publishes NewDraw(seed) (commitment only) for GET .../draws/{date}.
//   - At opening, inside the one Store.Update transaction that issues the
//     numbers, it calls DrawTickets(seed, heldTicketIDs) and issues numbers
//     and labels in the returned ticket order; the Draw it returns (seed
//     revealed, held, order) is what GET .../draws/{date} shows from then on.
// Nothing here does I/O or reads the clock: the seed is the only input that
// is random, and everything else can be recomputed by anyone from the
// published Draw (VerifyDraw does exactly that).

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
)

// DrawSeedSize is the size in bytes of a draw's secret seed.
const DrawSeedSize = 32

// Draw is one service's fair-opening draw as GET
// /api/v1/institutions/{id}/draws/{date} publishes it. Before the draw Seed
// is nil and Held and Order are empty; after it, Seed is the hex of the seed
// whose SHA-256 is Commitment, Held the sorted digests of the held tickets'
// ids and Order those digests in the drawn order.
type Draw struct {
	Commitment string   `json:"commitment"`
	Seed       *string  `json:"seed"`
	Held       []string `json:"held"`
	Order      []string `json:"order"`
}

// NewDrawSeed returns a fresh secret seed from the operating system's
// cryptographic random source.
func NewDrawSeed() ([]byte, error) {
	return readDrawSeed(rand.Reader)
}

func readDrawSeed(r io.Reader) ([]byte, error) {
	seed := make([]byte, DrawSeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("draw seed: %w", err)
	}
	return seed, nil
}

// NewDraw is the draw published when the pre-queue window opens: the
// commitment to seed, nothing else.
func NewDraw(seed []byte) Draw {
	return Draw{Commitment: DrawCommitment(seed), Held: []string{}, Order: []string{}}
}

// DrawCommitment is the published commitment to a seed: hex SHA-256 of its
// bytes.
func DrawCommitment(seed []byte) string {
	sum := sha256.Sum256(seed)
	return hex.EncodeToString(sum[:])
}

// HeldDigest is what the draw publishes for a held ticket: hex SHA-256 of
// its id as the ticket shows it (the lower-case UUID text, e.g.
// "0e78ab8f-..."). The citizen can compute it from their own ticket; nobody
// can get back from it to the ticket id, which is the ticket's capability.
func HeldDigest(ticketID string) string {
	sum := sha256.Sum256([]byte(ticketID))
	return hex.EncodeToString(sum[:])
}

// DrawIndex is j of the contract's Fisher-Yates step i: the first 8 bytes,
// big-endian, of HMAC-SHA256(key = seed, message = i as 8 bytes big-endian),
// modulo i+1.
func DrawIndex(seed []byte, i int) int {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(i))
	mac := hmac.New(sha256.New, seed)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(i+1))
}

// DrawOrder shuffles held (the sorted digests) with the contract's
// Fisher-Yates: for i from n-1 down to 1, swap elements i and
// DrawIndex(seed, i). It returns a new slice; held is not changed.
func DrawOrder(seed []byte, held []string) []string {
	order := slices.Clone(held)
	for i := len(order) - 1; i >= 1; i-- {
		j := DrawIndex(seed, i)
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// DrawTickets performs the draw of one service at opening: it returns the
// held ticket ids in drawn order (numbers and labels are issued in that
// order) and the Draw to publish, with the seed revealed. Ticket ids must be
// distinct.
func DrawTickets(seed []byte, ticketIDs []string) (drawn []string, published Draw, err error) {
	if len(seed) != DrawSeedSize {
		return nil, Draw{}, fmt.Errorf("draw: seed is %d bytes, want %d", len(seed), DrawSeedSize)
	}
	byDigest := make(map[string]string, len(ticketIDs))
	held := make([]string, 0, len(ticketIDs))
	for _, id := range ticketIDs {
		d := HeldDigest(id)
		if _, dup := byDigest[d]; dup {
			return nil, Draw{}, fmt.Errorf("draw: ticket %s held twice", id)
		}
		byDigest[d] = id
		held = append(held, d)
	}
	slices.Sort(held)
	order := DrawOrder(seed, held)
	drawn = make([]string, len(order))
	for k, d := range order {
		drawn[k] = byDigest[d]
	}
	s := hex.EncodeToString(seed)
	return drawn, Draw{Commitment: DrawCommitment(seed), Seed: &s, Held: held, Order: order}, nil
}

// VerifyDraw checks a published, performed draw the way a citizen would: the
// seed matches the commitment, held is sorted, and order is held shuffled
// with that seed. It returns an error saying what does not hold.
func VerifyDraw(d Draw) error {
	if d.Seed == nil {
		return fmt.Errorf("verify draw: no seed published yet")
	}
	seed, err := hex.DecodeString(*d.Seed)
	if err != nil || len(seed) != DrawSeedSize {
		return fmt.Errorf("verify draw: seed must be %d bytes of hex", DrawSeedSize)
	}
	if got := DrawCommitment(seed); got != d.Commitment {
		return fmt.Errorf("verify draw: sha256(seed) is %s, the commitment %s", got, d.Commitment)
	}
	if !slices.IsSorted(d.Held) {
		return fmt.Errorf("verify draw: held is not sorted")
	}
	want := DrawOrder(seed, d.Held)
	if len(want) != len(d.Order) {
		return fmt.Errorf("verify draw: order has %d entries, held %d", len(d.Order), len(want))
	}
	for k := range want {
		if want[k] != d.Order[k] {
			return fmt.Errorf("verify draw: position %d is %s, the seed gives %s", k+1, d.Order[k], want[k])
		}
	}
	return nil
}
