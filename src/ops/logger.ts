import { pino } from 'pino';

export type Logger = pino.Logger;

/** JSON lines on stdout; `msg` carries the sentence, other fields the facts. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'infercache' }, timestamp: pino.stdTimeFunctions.isoTime });
}
