package queue_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/queueless/queueless/queue"
)

// The worked example of docs/FAIRNESS.md: five people held before opening.
// The seed here is the bytes 0, 1, ..., 31 so that anyone can retype it; a
// real seed comes from NewDrawSeed.
func ExampleDrawTickets() {
	seed := make([]byte, queue.DrawSeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	held := []string{
		"3f2b8c1e-6a4d-4e1f-9b7a-2c5d8e9f0a1b", // Ana
		"a0c4e9d2-1b3f-4c5a-8d6e-7f9a0b1c2d3e", // Ben
		"5d7e9f1a-2b4c-4d6e-8f0a-1b2c3d4e5f6a", // Carla
		"c8b6a4f2-0e1d-4c3b-9a8f-7e6d5c4b3a29", // Dodong
		"e1f3a5c7-9b0d-4e2f-8a6c-4b2d0f9e7c5a", // Elena
	}
	names := map[string]string{}
	for k, id := range held {
		names[queue.HeldDigest(id)] = []string{"Ana", "Ben", "Carla", "Dodong", "Elena"}[k]
	}

	fmt.Println("before the window: commitment", queue.NewDraw(seed).Commitment)
	drawn, pub, err := queue.DrawTickets(seed, held)
	if err != nil {
		panic(err)
	}
	fmt.Println("held, sorted:")
	for k, h := range pub.Held {
		fmt.Printf("  %d %s %s\n", k, h, names[h])
	}
	fmt.Println("at opening: seed", *pub.Seed)
	for i := len(pub.Held) - 1; i >= 1; i-- {
		mac := hmac.New(sha256.New, seed)
		mac.Write(binary.BigEndian.AppendUint64(nil, uint64(i)))
		first8 := binary.BigEndian.Uint64(mac.Sum(nil)[:8])
		fmt.Printf("  i=%d: first 8 bytes %d, mod %d = %d\n", i, first8, i+1, queue.DrawIndex(seed, i))
	}
	fmt.Println("order:")
	for k, h := range pub.Order {
		fmt.Printf("  %d. %s... %s\n", k+1, h[:12], names[h])
	}
	fmt.Println("first ticket issued:", drawn[0])
	fmt.Println("verified:", queue.VerifyDraw(pub) == nil)
	// Output:
	// before the window: commitment 630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd
	// held, sorted:
	//   0 2d49e4c31dc693348da93561672b95dfc21d95d88360009ec35b7e8d01014712 Elena
	//   1 6b84cf046c08755137192c1133e352ef2b04a2c3bab3f1f9f8a37ceb03f5a363 Dodong
	//   2 93cee3d6bec5a4d51ad6887ac995d9cddcb35a593d653d24209ed164302f0476 Ana
	//   3 9afb89624a45f523746e450eb57e97c35fd13be4bb2f1a68be048e8f106e5242 Carla
	//   4 ff88e9983b4c073597ef1407957bc6bec3e7cbd30b822fb4f3a19ef44aa83976 Ben
	// at opening: seed 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
	//   i=4: first 8 bytes 17880342955151215829, mod 5 = 4
	//   i=3: first 8 bytes 10866880179138184085, mod 4 = 1
	//   i=2: first 8 bytes 17954398244998040692, mod 3 = 1
	//   i=1: first 8 bytes 14137608856405602039, mod 2 = 1
	// order:
	//   1. 2d49e4c31dc6... Elena
	//   2. 93cee3d6bec5... Ana
	//   3. 9afb89624a45... Carla
	//   4. 6b84cf046c08... Dodong
	//   5. ff88e9983b4c... Ben
	// first ticket issued: e1f3a5c7-9b0d-4e2f-8a6c-4b2d0f9e7c5a
	// verified: true
}
