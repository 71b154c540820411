import { createKeyHasher, type KeyHasher } from '../../src/cache/keys.js';
import type { ScenarioResult } from '../lib/report.js';
import { mulberry32, randomFloats } from '../lib/rows.js';

const ROWS = 4096;
const ROUNDS = 5;

/**
 * What a collision-resistant key costs: the same canonical rows hashed with
 * the default XXH3-128, XXH3-128 keyed by a secret, and HMAC-SHA256-128, in
 * this process (no server). The row sizes are an iris row (16 bytes + key
 * header) and a heavy row (1 KiB + header).
 */
export async function keyHash(): Promise<ScenarioResult> {
  const rng = mulberry32(0x4a5);
  const sizes = { iris: 16 + 40, heavy: 1024 + 40 };
  const hashers: Record<string, KeyHasher> = {
    'xxh3-128': createKeyHasher('xxh3-128', ''),
    'xxh3-128 + secret': createKeyHasher('xxh3-128', 'deployment-secret'),
    'hmac-sha256-128': createKeyHasher('hmac-sha256-128', 'deployment-secret'),
  };
  const phases: ScenarioResult['phases'] = {};
  for (const [rowName, bytes] of Object.entries(sizes)) {
    const rows = Array.from({ length: ROWS }, () => randomFloats(rng, bytes / 4));
    for (const [hashName, hash] of Object.entries(hashers)) {
      for (const row of rows) hash(row); // Warm-up.
      let best = Number.POSITIVE_INFINITY;
      for (let round = 0; round < ROUNDS; round++) {
        const start = process.hrtime.bigint();
        for (const row of rows) hash(row);
        best = Math.min(best, Number(process.hrtime.bigint() - start) / ROWS);
      }
      phases[`${hashName}, ${rowName} row`] = { nsPerRow: best, rowBytes: bytes };
    }
  }
  const ns = (name: string) => Number(phases[name]?.nsPerRow);
  return {
    name: 'key_hash',
    title: 'Key hashing cost per row: XXH3-128 vs keyed XXH3 vs HMAC-SHA256',
    settings: { rows: ROWS, rounds: ROUNDS, statistic: 'best round' },
    ratios: {
      'hmac/xxh3, iris row': { value: ns('hmac-sha256-128, iris row') / ns('xxh3-128, iris row') },
      'hmac/xxh3, heavy row': { value: ns('hmac-sha256-128, heavy row') / ns('xxh3-128, heavy row') },
      'keyed xxh3/xxh3, heavy row': { value: ns('xxh3-128 + secret, heavy row') / ns('xxh3-128, heavy row') },
    },
    phases,
    notes: ['Includes turning the 128-bit digest into the 32-hex-digit key suffix.'],
  };
}
