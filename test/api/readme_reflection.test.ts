import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sidecar, startSidecar, stopAllSidecars } from '../helpers/sidecar.js';
import { shell } from '../helpers/strict_clients.js';

// The README's reflection transcripts are what these commands print. With
// UPDATE_README=1 this test writes what they print now into the README.
const README = new URL('../../README.md', import.meta.url);
const START = '<!-- reflection:start -->\n';
const END = '<!-- reflection:end -->';
/** The address the README shows; the test's sidecar listens elsewhere. */
const SHOWN_ADDR = 'localhost:50051';

type Part = { prose: string } | { commands: { lines: string[]; output: string[] }[] };

/** Prose lines, and ```console blocks of `$ command` lines (continued by a trailing `\`) and their output. */
function parse(section: string): Part[] {
  const parts: Part[] = [];
  const lines = section.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```console') {
      parts.push({ prose: lines[i] as string });
      continue;
    }
    const commands: { lines: string[]; output: string[] }[] = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) {
      const line = lines[i] as string;
      const last = commands.at(-1);
      if (line.startsWith('$ ')) commands.push({ lines: [line], output: [] });
      else if (last !== undefined && last.output.length === 0 && last.lines.at(-1)?.endsWith('\\'))
        last.lines.push(line);
      else if (last !== undefined) last.output.push(line);
      else throw new Error(`output before any command in a console block: ${line}`);
    }
    parts.push({ commands });
  }
  return parts;
}

function render(parts: Part[]): string {
  return parts
    .flatMap((part) =>
      'prose' in part
        ? [part.prose]
        : ['```console', ...part.commands.flatMap((c) => [...c.lines, ...c.output]), '```'],
    )
    .join('\n');
}

describe("the README's reflection transcripts", () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ redisUrl: '' });
  });
  afterAll(stopAllSidecars);

  it('show exactly what their commands print against a freshly started sidecar', async () => {
    const readme = readFileSync(README, 'utf8');
    const from = readme.indexOf(START) + START.length;
    const to = readme.indexOf(END, from);
    expect(from).toBeGreaterThanOrEqual(START.length);
    expect(to).toBeGreaterThan(from);
    const shown = readme.slice(from, to);
    const parts = parse(shown);

    const commands = parts.flatMap((p) => ('commands' in p ? p.commands : []));
    expect(commands.length).toBeGreaterThanOrEqual(6);
    // In order: the first Predict computes the row, the second finds it in L1.
    for (const command of commands) {
      const text = command.lines.join('\n').slice('$ '.length).replaceAll(SHOWN_ADDR, sidecar.grpcAddr);
      const run = await shell(text);
      expect(run.code, `${text}\n${run.stderr}`).toBe(0);
      const printed = run.stdout.replaceAll(sidecar.grpcAddr, SHOWN_ADDR).replace(/\n$/, '');
      command.output = printed === '' ? [] : printed.split('\n');
    }

    const actual = render(parts);
    if (process.env.UPDATE_README === '1' && actual !== shown) {
      writeFileSync(README, readme.slice(0, from) + actual + readme.slice(to));
    }
    expect(shown).toBe(actual);
  });
});
