import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Directories made for redis-server processes; removed at exit even when a
// test run dies before calling stop(), so /tmp does not fill with node configs.
const made = new Set<string>();
let hooked = false;

/** A fresh directory under the OS temp dir, removed by removeTempDir() or at exit. */
export function makeTempDir(prefix: string): string {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const dir of made) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), `infercache-${prefix}`));
  made.add(dir);
  return dir;
}

/** Removes `dir` now; it stays registered, as a restarted server makes it again. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
