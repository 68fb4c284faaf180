package hub

import "slices"

// waitingSet is the ordered set of an institution's waiting (or notified)
// numbers. A ticket's people_ahead is its rank in it. Joins append at the
// end and calls remove from the front, so a sorted slice is cheap.
type waitingSet struct{ nums []int64 }

// reset replaces the set with nums, in any order.
func (w *waitingSet) reset(nums []int64) {
	w.nums = slices.Clone(nums)
	slices.Sort(w.nums)
	w.nums = slices.Compact(w.nums)
}

// add inserts n; adding a present number changes nothing.
func (w *waitingSet) add(n int64) {
	if k := len(w.nums); k == 0 || w.nums[k-1] < n {
		w.nums = append(w.nums, n)
		return
	}
	if i, found := slices.BinarySearch(w.nums, n); !found {
		w.nums = slices.Insert(w.nums, i, n)
	}
}

// remove deletes n; removing an absent number changes nothing.
func (w *waitingSet) remove(n int64) {
	if i, found := slices.BinarySearch(w.nums, n); found {
		w.nums = slices.Delete(w.nums, i, i+1)
	}
}

// before counts the numbers lower than n.
func (w *waitingSet) before(n int64) int64 {
	i, _ := slices.BinarySearch(w.nums, n)
	return int64(i)
}

func (w *waitingSet) len() int { return len(w.nums) }
