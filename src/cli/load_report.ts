import cliProgress from 'cli-progress';
import type { LoadProgress, LoadSummary } from '../features/bulk_load.js';

/**
 * The one line a load ends with, on a terminal or not: rows read, written,
 * skipped as older than the stored row, rejected (with the first reasons),
 * the rate and the time taken.
 */
export function summaryLine(s: LoadSummary, file: string): string {
  const more = s.rejected > s.reasons.length ? `first ${s.reasons.length}: ` : '';
  const reasons = s.reasons.length > 0 ? ` (${more}${s.reasons.join('; ')})` : '';
  const rate = s.seconds > 0 ? Math.round(s.rowsRead / s.seconds) : 0;
  return (
    `${s.view} from ${file}: read ${s.rowsRead} rows, written ${s.written}, ` +
    `skipped older ${s.skippedOlder}, rejected ${s.rejected}${reasons}; ` +
    `${rate} rows/s, ${s.seconds.toFixed(2)} s`
  );
}

/**
 * A progress bar on stderr (by bytes of the file read, with rows and rows/s),
 * for a terminal only: piped or logged output gets the summary line alone.
 * cli-progress redraws in place at a bounded rate and restores the cursor.
 */
export class LoadProgressBar {
  readonly #bar = new cliProgress.SingleBar(
    {
      format: '{view} [{bar}] {percentage}% | {rows} rows | {rate} rows/s | eta {eta_formatted}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  readonly #view: string;
  readonly #started = performance.now();
  #running = false;

  constructor(view: string) {
    this.#view = view;
  }

  update(p: LoadProgress): void {
    const seconds = (performance.now() - this.#started) / 1000;
    const payload = {
      view: this.#view,
      rows: p.rowsRead,
      rate: Math.round(p.rowsRead / Math.max(seconds, 1e-3)),
    };
    if (!this.#running) {
      this.#running = true;
      this.#bar.start(Math.max(p.fileBytes, 1), 0, payload);
    }
    this.#bar.update(p.bytesRead, payload);
  }

  stop(): void {
    if (this.#running) this.#bar.stop();
    this.#running = false;
  }
}
