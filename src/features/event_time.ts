import { BadField } from './load_values.js';

const MS = /^\s*\d+\s*$/;
// A date, or a date and time with its zone: a time without a zone would be
// read in the loading machine's zone, and rows loaded from two machines
// would then disagree on which is newer.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))?$/;

/** An `event_time_ms` value: a positive integer count of ms since the Unix epoch. */
export function eventTimeFromMs(v: unknown): number {
  const n = typeof v === 'string' && MS.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw new BadField(`${JSON.stringify(v)} is not a time in ms since the Unix epoch`);
  }
  return n;
}

/** An `event_time` value: ISO-8601, e.g. 2024-05-01T12:00:00Z, 2024-05-01T14:00:00+02:00 or 2024-05-01. */
export function eventTimeFromIso(v: unknown): number {
  const bad = () =>
    new BadField(`${JSON.stringify(v)} is not an ISO-8601 time with its zone (e.g. 2024-05-01T12:00:00Z)`);
  if (typeof v !== 'string') throw bad();
  const text = v.trim();
  const m = ISO.exec(text);
  if (m === null) throw bad();
  // Date.parse rolls 2024-02-30 over to March 1st; a calendar date is checked here.
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) throw bad();
  const t = Date.parse(text.replace(' ', 'T'));
  if (!Number.isSafeInteger(t) || t <= 0) throw bad();
  return t;
}
