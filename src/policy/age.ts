/** The last instant parsed: a request decides hundreds of fields at one instant. */
let lastAt = '';
let lastDate: [number, number, number] = [0, 0, 0];

/** Whole years between an ISO birth date and an ISO instant (UTC calendar). */
export function ageAt(dateOfBirth: string, at: string): number {
  if (at !== lastAt) {
    const now = new Date(at);
    lastDate = [now.getUTCFullYear(), now.getUTCMonth() + 1, now.getUTCDate()];
    lastAt = at;
  }
  const [y, m, d] = lastDate;
  const by = Number(dateOfBirth.slice(0, 4));
  const bm = Number(dateOfBirth.slice(5, 7));
  const bd = Number(dateOfBirth.slice(8, 10));
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}
