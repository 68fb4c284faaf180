// The staff console's text state per waiting ticket (GET
// /api/v1/institutions/{id}/texts): "text sent", "text failed", "not
// verified", "texts off", shown beside the phone number. staff.js calls
// markTexts after it draws the waiting list.

const WORDS = {
  sent: 'text sent',
  failed: 'text failed',
  pending: 'sending text…',
  suppressed: 'text not sent (late)',
  not_verified: 'not verified',
  opted_out: 'texts off (STOP)',
  verified: 'verified',
};

/** textWords is how the console says a text state; "" for none. */
export function textWords(state) {
  return WORDS[state] || '';
}

/**
 * markTexts fetches the institution's text states with get (the console's
 * authenticated GET) and marks each row of tbody (tr[data-id]) in its phone
 * cell. Errors leave the list as it is: the texts are a hint, not the list.
 */
export async function markTexts(tbody, institutionId, get) {
  let res;
  try {
    res = await get(`institutions/${institutionId}/texts`);
  } catch {
    return;
  }
  for (const s of res.items || []) {
    const row = tbody.querySelector(`tr[data-id="${CSS.escape(s.ticket_id)}"]`);
    const cell = row && row.querySelector('td.phone');
    const words = textWords(s.state);
    if (!cell || !words) continue;
    let tag = cell.querySelector('.text-state');
    if (!tag) {
      tag = document.createElement('span');
      tag.className = 'text-state';
      cell.append(' ', tag);
    }
    tag.dataset.state = s.state;
    tag.textContent = words;
    if (s.last_error) tag.title = s.last_error;
  }
}
