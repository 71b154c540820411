import { z } from 'zod';

type Kind = 'p' | 'f' | 'e';

/** `p=0.5,f=0.3,e=0.2`: each kind's share of the L1 byte budget. */
export const l1Shares = z.string().transform((v, ctx) => {
  const shares: Record<Kind, number> = { p: 0, f: 0, e: 0 };
  for (const part of v.split(',')) {
    const m = /^\s*([pfe])\s*=\s*(0|1|0?\.\d+)\s*$/.exec(part);
    if (m === null) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected p=<share>,f=<share>,e=<share> (shares from 0 to 1)',
      });
      return z.NEVER;
    }
    shares[m[1] as Kind] = Number(m[2]);
  }
  const total = shares.p + shares.f + shares.e;
  if (total > 1 + 1e-9 || total === 0) {
    ctx.addIssue({
      code: 'custom',
      message: `shares add up to ${total}; they must be above 0 and at most 1`,
    });
    return z.NEVER;
  }
  return shares;
});

const L1_POLICIES = ['lru', 'tinylfu'] as const;
type Policy = (typeof L1_POLICIES)[number];

/**
 * `p=tinylfu,f=lru,e=tinylfu`, or one policy for every kind (`lru`): how
 * each kind's part of L1 chooses what to keep. A kind not named is `lru`.
 */
export const l1Policies = z.string().transform((v, ctx) => {
  const all = v.trim();
  if ((L1_POLICIES as readonly string[]).includes(all)) {
    return { p: all, f: all, e: all } as Record<Kind, Policy>;
  }
  const policies: Record<Kind, Policy> = { p: 'lru', f: 'lru', e: 'lru' };
  for (const part of v.split(',')) {
    const m = /^\s*([pfe])\s*=\s*(lru|tinylfu)\s*$/.exec(part);
    if (m === null) {
      ctx.addIssue({
        code: 'custom',
        message: `expected p=<policy>,f=<policy>,e=<policy> or one policy, each of ${L1_POLICIES.join(', ')}`,
      });
      return z.NEVER;
    }
    policies[m[1] as Kind] = m[2] as Policy;
  }
  return policies;
});

const ARENA_KINDS = ['p', 'e'] as const;

/**
 * `p,e`, `p`, `e` or `off`: the kinds whose L1 values are kept as bytes in a
 * slab arena. Feature rows are not offered: their kind's round trip
 * through its payload has not been checked against everything L1 keeps.
 */
export const l1Arena = z.string().transform((v, ctx) => {
  const all = v.trim();
  if (all === 'off') return [] as Kind[];
  const kinds = all.split(',').map((k) => k.trim());
  const bad = kinds.filter((k) => !(ARENA_KINDS as readonly string[]).includes(k));
  if (bad.length > 0 || kinds.length === 0) {
    ctx.addIssue({ code: 'custom', message: `expected off or a list of ${ARENA_KINDS.join(', ')}` });
    return z.NEVER;
  }
  return [...new Set(kinds)] as Kind[];
});
