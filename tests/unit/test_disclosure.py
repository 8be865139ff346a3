"""Secondary suppression: whatever the counts, no published row is small and the suppressed
rows together are never small (so total minus published rows gives none of them back)."""

from hypothesis import given
from hypothesis import strategies as st

from service.digest.disclosure import suppressed_rows


@given(st.lists(st.integers(min_value=0, max_value=12), max_size=15), st.integers(1, 6))
def test_suppressed_rows_cannot_be_worked_out(counts, k):
    chosen = suppressed_rows(counts, k)
    published = [n for i, n in enumerate(counts) if i not in chosen]
    assert not any(0 < n < k for n in published)
    hidden = sum(counts[i] for i in chosen)
    everything_hidden = all(counts[i] == 0 for i in range(len(counts)) if i not in chosen)
    assert hidden == 0 or hidden >= k or everything_hidden
    assert all(counts[i] > 0 for i in chosen)  # a zero is never withheld


def test_a_lone_small_row_takes_the_smallest_other_with_it():
    assert suppressed_rows([0, 1, 5, 4, 9], 3) == {1, 3}
    assert suppressed_rows([1, 2, 9], 3) == {0, 1}
    assert suppressed_rows([0, 3, 4], 3) == set()
    assert suppressed_rows([2], 3) == {0}
