/** Whole years between an ISO birth date and an ISO instant (UTC calendar). */
export function ageAt(dateOfBirth: string, at: string): number {
  const [by, bm, bd] = dateOfBirth.slice(0, 10).split('-').map(Number);
  const now = new Date(at);
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth() + 1;
  const d = now.getUTCDate();
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}
