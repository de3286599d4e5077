"""Where a job's chunk texts are kept. Only the sweeper (voxflow.ops.sweeper) reads them,
to queue a lost chunk task again.

DynamoDB bills a write by the whole item, one write unit per KB (for an UpdateItem, the
larger of the item before and after), and a job's item is written once per chunk (its
count) and three or four times more. With a 2,766-character text's 32 chunk texts in
it, the item was ~5.6 KB: 6 units a write, ~200 for the job, twice that with the global
table. Texts that would take the item past its first unit go to the audio bucket
instead (AudioStore.put_job_texts, one PUT per job); short ones stay in the item, where
they cost no second call.
"""

from collections.abc import Sequence

# A one-chunk job's item without its text is ~0.5 KB (tests/test_job_texts.py): texts up
# to this size keep it within one write unit.
IN_ITEM_MAX_BYTES = 400


def kept_in_item(texts: Sequence[str]) -> bool:
    return sum(len(text.encode()) for text in texts) <= IN_ITEM_MAX_BYTES
