// The fairness log's reasons (shared/API.md, "Fairness log") in words a
// citizen reads: why a number was called when it was.

/** REASONS: [reason, css kind, short words, what it means]. */
export const REASONS = [
  ['in_order', 'in-order', 'In order', 'The next number in line for its service.'],
  ['priority', 'priority', 'Priority lane', 'A senior citizen, a person with disability or a pregnant woman: a few are called before each regular number.'],
  ['requeued', 'requeued', 'Missed turn, put back', 'Called earlier but not at the counter in time; put back in line a few places from the front, as the office allows.'],
  ['deferred', 'deferred', 'Let others go ahead', 'The person asked to let a few people go ahead of them.'],
  ['transferred', 'transferred', 'From another step', 'Finished one step of a visit (like assessment) and sent to this service by the staff.'],
  ['recall', 'recall', 'Called again', 'The same number called again because the person had not come to the counter yet.'],
  ['drawn', 'drawn', 'Drawn at opening', 'Joined before opening; the places of everyone who did were drawn at random when the office opened.'],
  ['', 'particular', 'Out of turn', 'Called by the staff out of turn; the staff\u2019s reason is shown.'],
];

const byReason = new Map(REASONS.filter(([r]) => r).map(([r, kind, words]) => [r, { kind, text: words }]));

/** reasonText is a reason in words; a staff's own words are a call out of turn. */
export function reasonText(reason) {
  return byReason.get(reason) || { kind: 'particular', text: `Out of turn: ${reason || 'no reason given'}` };
}

/** summarize counts the calls by kind: "12 calls: 9 in order, 2 priority lane, 1 out of turn". */
export function summarize(items) {
  if (!items.length) return '';
  const counts = new Map();
  for (const c of items) {
    const { kind } = reasonText(c.reason);
    counts.set(kind, (counts.get(kind) || 0) + 1);
  }
  const parts = REASONS.filter(([, kind]) => counts.has(kind)).map(([, kind, words]) => `${counts.get(kind)} ${words.toLowerCase()}`);
  return `${items.length} call${items.length === 1 ? '' : 's'}: ${parts.join(', ')}.`;
}
