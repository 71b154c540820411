import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { xxh3 } from '@node-rs/xxhash';
import type { CacheKind } from '../cache/kind.js';
import type { L1Cache } from '../cache/l1.js';
import { decodeFrame, encodeFrame, type FrameKind } from '../cache/value_frame.js';
import type { Logger } from '../ops/logger.js';

/**
 * L1 written to a file at shutdown and read back at start, so a sidecar
 * without Redis (the embedded default) restarts warm. Each entry keeps the
 * time it had left, less the time the sidecar was down: the file holds
 * when it was written (wall clock, the only clock that runs while no
 * process does), and what ran out meanwhile is not loaded. The file:
 *   "ICL1SNAP" · u16 version (2) · u16 length + the key prefix
 *   f64 written at (ms since the epoch)
 *   entries: u8 kind · u32 key length · key · u32 frame length · frame
 *            (cache/value_frame.ts, checked against its key) · f64 ms left
 *   u32 0xffffffff (end) · u64 XXH3-64 of everything before it
 * Written to a temporary file, synced, renamed over the old one and the
 * directory synced, so a crash mid-write never leaves a file that loads
 * wrong, nor a power cut a rename that never happened. A file that is
 * corrupt, truncated, of another version or another key prefix is ignored
 * with one WARN line; an entry whose kind cannot be read now (its model
 * version or view is gone) is skipped.
 */
const MAGIC = Buffer.from('ICL1SNAP');
// 1 kept no write time: its entries came back with the time they had left at shutdown, however long ago.
const VERSION = 2;
const END = 0xffffffff;
const KINDS: readonly FrameKind[] = ['p', 'f', 'e'];

/** The cache kind that reads a key's value now, if any. */
export type KindOf = (kind: FrameKind, key: string) => CacheKind<object> | undefined;

/** Wall-clock milliseconds since the epoch (Date.now; tests move it). */
export type WallClock = () => number;

export async function writeSnapshot(
  path: string,
  prefix: string,
  l1: L1Cache,
  kindOf: KindOf,
  now: WallClock = Date.now,
): Promise<number> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const file = await open(tmp, 'w');
  let entries = 0;
  const hasher = xxh3.Xxh3.withSeed();
  const write = async (bytes: Buffer) => {
    hasher.update(bytes);
    await file.write(bytes);
  };
  try {
    const prefixBytes = Buffer.from(prefix);
    const head = Buffer.alloc(4);
    head.writeUInt16LE(VERSION, 0);
    head.writeUInt16LE(prefixBytes.length, 2);
    const writtenAt = Buffer.alloc(8);
    writtenAt.writeDoubleLE(now(), 0);
    await write(Buffer.concat([MAGIC, head, prefixBytes, writtenAt]));
    for (const kindId of KINDS) {
      for (const [key, value, left] of l1.entries(kindId)) {
        const kind = kindOf(kindId, key);
        if (kind === undefined) continue;
        let frame: Buffer;
        try {
          frame = encodeFrame(key, kindId, kind.timeOf(value), kind.encode(value));
        } catch {
          continue;
        }
        const keyBytes = Buffer.from(key);
        const entry = Buffer.allocUnsafe(1 + 4 + keyBytes.length + 4 + frame.length + 8);
        let at = entry.writeUInt8(kindId.charCodeAt(0), 0);
        at = entry.writeUInt32LE(keyBytes.length, at);
        at += keyBytes.copy(entry, at);
        at = entry.writeUInt32LE(frame.length, at);
        at += frame.copy(entry, at);
        entry.writeDoubleLE(left, at);
        await write(entry);
        entries++;
      }
    }
    const end = Buffer.alloc(4);
    end.writeUInt32LE(END, 0);
    await write(end);
    const check = Buffer.alloc(8);
    check.writeBigUInt64LE(hasher.digest(), 0);
    await file.write(check);
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await file.close();
  await rename(tmp, path);
  await syncDirectory(dirname(path));
  return entries;
}

/**
 * A rename is durable once its directory is synced (rename(2) promises
 * atomicity, not durability). A file system that refuses to sync a
 * directory leaves the snapshot written all the same.
 */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (handle === undefined) return;
  try {
    await handle.sync();
  } catch {
    // EINVAL on some file systems: nothing more can be done.
  } finally {
    await handle.close();
  }
}

/** Loads a snapshot into L1; resolves with how many entries were taken (0 when the file is absent or refused). */
export async function readSnapshot(
  path: string,
  prefix: string,
  l1: L1Cache,
  kindOf: KindOf,
  maxBytes: number,
  log: Logger,
  now: WallClock = Date.now,
): Promise<number> {
  const size = await stat(path).then(
    (s) => s.size,
    () => undefined,
  );
  if (size === undefined) return 0;
  const refuse = (why: string) => {
    log.warn({ file: path, why }, 'ignoring the L1 snapshot');
    return 0;
  };
  if (size > maxBytes) return refuse(`${size} bytes, more than L1 holds`);
  const bytes = await readFile(path);
  if (bytes.length < MAGIC.length + 4 + 8 + 4 + 8 || !bytes.subarray(0, MAGIC.length).equals(MAGIC))
    return refuse('not a snapshot');
  const body = bytes.subarray(0, bytes.length - 8);
  if (xxh3.xxh64(body) !== bytes.readBigUInt64LE(bytes.length - 8))
    return refuse('its check does not match (corrupt or truncated)');
  let at = MAGIC.length;
  if (bytes.readUInt16LE(at) !== VERSION) return refuse(`version ${bytes.readUInt16LE(at)}`);
  const prefixLength = bytes.readUInt16LE(at + 2);
  at += 4;
  if (bytes.toString('utf8', at, at + prefixLength) !== prefix)
    return refuse('written under another key prefix');
  at += prefixLength;
  if (at + 8 > body.length) return refuse('malformed entries');
  // A clock set back since the write counts as no time down: a TTL is never lengthened.
  const down = Math.max(0, now() - bytes.readDoubleLE(at));
  at += 8;
  let taken = 0;
  try {
    for (;;) {
      const kindByte = bytes.readUInt8(at);
      if (bytes.readUInt32LE(at) === END) break;
      const kindId = String.fromCharCode(kindByte) as FrameKind;
      const keyLength = bytes.readUInt32LE(at + 1);
      const key = bytes.toString('utf8', at + 5, at + 5 + keyLength);
      at += 5 + keyLength;
      const frameLength = bytes.readUInt32LE(at);
      const frameBytes = bytes.subarray(at + 4, at + 4 + frameLength);
      at += 4 + frameLength;
      const left = bytes.readDoubleLE(at) - down;
      at += 8;
      const kind = kindOf(kindId, key);
      if (kind === undefined || !(left > 0)) continue;
      try {
        const frame = decodeFrame(key, kindId, Buffer.from(frameBytes));
        l1.store(kind).set(key, kind.decode(frame.payload, frame.time), left);
        taken++;
      } catch {
        // A value the current schema refuses is left out, like any bad value.
      }
    }
  } catch {
    return refuse('malformed entries');
  }
  return taken;
}
