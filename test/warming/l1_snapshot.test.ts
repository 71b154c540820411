import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { xxh3 } from '@node-rs/xxhash';
import { describe, expect, it } from 'vitest';
import type { CacheKind } from '../../src/cache/kind.js';
import { L1Cache } from '../../src/cache/l1.js';
import type { FrameKind } from '../../src/cache/value_frame.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { type KindOf, readSnapshot, writeSnapshot } from '../../src/warming/l1_snapshot.js';
import { type Blob, blob, blobKind } from '../helpers/blob_kind.js';
import { memoryLog, WARN } from '../helpers/memory_log.js';
import { makeTempDir } from '../helpers/temp_dirs.js';

const PREFIX = 'snap';
const kinds: Record<FrameKind, CacheKind<Blob>> = {
  p: blobKind({ id: 'p' }),
  f: blobKind({ id: 'f' }),
  e: blobKind({ id: 'e', width: 8 }),
};
const kindOf: KindOf = (kind) => kinds[kind] as CacheKind<object>;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function newL1(): L1Cache {
  const metrics = createMetrics();
  return new L1Cache(
    { maxBytes: 1_000_000, shares: { p: 0.4, f: 0.3, e: 0.3 } },
    metrics.cache,
    metrics.l1Sources,
  );
}

/** An L1 holding one entry of each kind, with lifetimes of a minute to an hour. */
function filledL1(): L1Cache {
  const l1 = newL1();
  l1.store(kinds.p).set(`${PREFIX}:p:m:1:aa`, blob(10, 1), HOUR);
  l1.store(kinds.f).set(`${PREFIX}:f:v:0:bb`, blob(20, 2), MINUTE);
  l1.store(kinds.e).set(`${PREFIX}:e:m:1:cc`, blob(8, 3), HOUR);
  return l1;
}

const file = () => join(makeTempDir('snapshot-'), 'l1.snapshot');

/** The snapshot's bytes with a fresh check at the end, as a writer of another format would leave them. */
function resealed(bytes: Buffer): Buffer {
  const body = bytes.subarray(0, bytes.length - 8);
  const check = Buffer.alloc(8);
  check.writeBigUInt64LE(xxh3.xxh64(body), 0);
  return Buffer.concat([body, check]);
}

describe('L1 snapshot', () => {
  it('restores every entry of every kind with the time it had left', async () => {
    const path = file();
    expect(await writeSnapshot(path, PREFIX, filledL1(), kindOf)).toBe(3);
    const l1 = newL1();
    const { log, lines } = memoryLog();
    expect(await readSnapshot(path, PREFIX, l1, kindOf, 10_000_000, log)).toBe(3);
    expect(lines).toEqual([]);
    expect(l1.store(kinds.p).get(`${PREFIX}:p:m:1:aa`)).toMatchObject({ data: Buffer.alloc(10, 1) });
    expect(l1.store(kinds.e).get(`${PREFIX}:e:m:1:cc`)).toMatchObject({ data: Buffer.alloc(8, 3) });
    const left = new Map([...l1.entries('p'), ...l1.entries('f')].map(([key, , ms]) => [key, ms]));
    // The minute-long entry has at most a minute left, not a fresh lifetime.
    expect(left.get(`${PREFIX}:f:v:0:bb`)).toBeLessThanOrEqual(MINUTE);
    expect(left.get(`${PREFIX}:f:v:0:bb`)).toBeGreaterThan(0);
    expect(left.get(`${PREFIX}:p:m:1:aa`)).toBeGreaterThan(MINUTE);
    expect(left.get(`${PREFIX}:p:m:1:aa`)).toBeLessThanOrEqual(HOUR);
  });

  it('leaves out entries whose kind is gone or whose value the reader refuses', async () => {
    const path = file();
    await writeSnapshot(path, PREFIX, filledL1(), kindOf);
    const l1 = newL1();
    const { log } = memoryLog();
    const narrower: KindOf = (kind) =>
      kind === 'p'
        ? undefined
        : kind === 'e'
          ? (blobKind({ id: 'e', width: 4 }) as CacheKind<object>)
          : kindOf(kind, '');
    expect(await readSnapshot(path, PREFIX, l1, narrower, 10_000_000, log)).toBe(1);
    expect([...l1.entries('f')].map(([key]) => key)).toEqual([`${PREFIX}:f:v:0:bb`]);
    expect([...l1.entries('p'), ...l1.entries('e')]).toEqual([]);
  });

  it('takes the time it was down off every entry, and leaves out what ran out meanwhile', async () => {
    const path = file();
    const l1 = filledL1();
    l1.store(kinds.f).set(`${PREFIX}:f:v:0:short`, blob(20, 4), 4000);
    const writtenAt = 1_700_000_000_000;
    expect(await writeSnapshot(path, PREFIX, l1, kindOf, () => writtenAt)).toBe(4);
    const { log } = memoryLog();
    const left = async (downMs: number) => {
      const back = newL1();
      await readSnapshot(path, PREFIX, back, kindOf, 10_000_000, log, () => writtenAt + downMs);
      return new Map([...back.entries('p'), ...back.entries('f')].map(([key, , ms]) => [key, ms]));
    };
    // Down 2 s: the 4 s entry has at most 2 s left, the others 2 s less than they had.
    const after2s = await left(2000);
    expect(after2s.get(`${PREFIX}:f:v:0:short`)).toBeLessThanOrEqual(2000);
    expect(after2s.get(`${PREFIX}:f:v:0:short`)).toBeGreaterThan(0);
    expect(after2s.get(`${PREFIX}:f:v:0:bb`)).toBeLessThanOrEqual(MINUTE - 2000);
    // Down 6 s: the 4 s entry ran out while no process held it.
    const after6s = await left(6000);
    expect(after6s.has(`${PREFIX}:f:v:0:short`)).toBe(false);
    expect(after6s.get(`${PREFIX}:f:v:0:bb`)).toBeLessThanOrEqual(MINUTE - 6000);
    expect(after6s.get(`${PREFIX}:p:m:1:aa`)).toBeLessThanOrEqual(HOUR - 6000);
    // Down two hours: nothing is left.
    const back = newL1();
    expect(await readSnapshot(path, PREFIX, back, kindOf, 10_000_000, log, () => writtenAt + 2 * HOUR)).toBe(
      0,
    );
  });

  it('never lengthens an entry when the clock went back while it was down', async () => {
    const path = file();
    const l1 = newL1();
    l1.store(kinds.f).set(`${PREFIX}:f:v:0:short`, blob(20, 4), 4000);
    const writtenAt = 1_700_000_000_000;
    await writeSnapshot(path, PREFIX, l1, kindOf, () => writtenAt);
    const back = newL1();
    const { log } = memoryLog();
    expect(await readSnapshot(path, PREFIX, back, kindOf, 10_000_000, log, () => writtenAt - HOUR)).toBe(1);
    const [[, , left] = []] = [...back.entries('f')];
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(4000);
  });

  const refusals: [string, (bytes: Buffer) => Buffer, RegExp, string?][] = [
    ['corrupt', (b) => Buffer.from(b).fill(0x55, 40, 41), /check does not match/],
    ['truncated', (b) => b.subarray(0, b.length - 20), /check does not match/],
    ['not a snapshot at all', () => Buffer.from('hello, this is not a snapshot file'), /not a snapshot/],
    [
      'of another version',
      (b) => {
        const copy = Buffer.from(b);
        copy.writeUInt16LE(1, 8);
        return resealed(copy);
      },
      /version 1/,
    ],
    ['written under another key prefix', (b) => b, /another key prefix/, 'other'],
  ];
  for (const [what, damage, why, prefix] of refusals) {
    it(`ignores a snapshot that is ${what}, with one WARN line`, async () => {
      const path = file();
      await writeSnapshot(path, PREFIX, filledL1(), kindOf);
      writeFileSync(path, damage(readFileSync(path)));
      const l1 = newL1();
      const { log, lines } = memoryLog();
      expect(await readSnapshot(path, prefix ?? PREFIX, l1, kindOf, 10_000_000, log)).toBe(0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: WARN, msg: 'ignoring the L1 snapshot', file: path });
      expect(String(lines[0]?.why)).toMatch(why);
      expect([...l1.entries('p'), ...l1.entries('f'), ...l1.entries('e')]).toEqual([]);
    });
  }

  it('reads nothing and says nothing when there is no snapshot yet', async () => {
    const { log, lines } = memoryLog();
    expect(await readSnapshot(file(), PREFIX, newL1(), kindOf, 10_000_000, log)).toBe(0);
    expect(lines).toEqual([]);
  });

  it('writes a temporary file and renames it: a write that fails leaves the previous snapshot whole', async () => {
    const path = file();
    await writeSnapshot(path, PREFIX, filledL1(), kindOf);
    const before = readFileSync(path);
    const failing: KindOf = (kind, key) => {
      if (kind === 'f') throw new Error('disk full, say');
      return kindOf(kind, key);
    };
    await expect(writeSnapshot(path, PREFIX, filledL1(), failing)).rejects.toThrow('disk full');
    expect(readFileSync(path).equals(before)).toBe(true);
    // Nothing but the snapshot in its directory: the temporary file went too.
    expect(readdirSync(join(path, '..'))).toEqual(['l1.snapshot']);
    const { log } = memoryLog();
    expect(await readSnapshot(path, PREFIX, newL1(), kindOf, 10_000_000, log)).toBe(3);
  });
});
