/**
 * Reads the V8 CPU profiles BENCH_CPU_PROF makes the sidecars (and the
 * in-process scenarios) write: self time by function (our src/ first) and by
 * package. dist/ paths are shown as their src/ file, with dist/ line numbers.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string, name: string): { group: string; file: string } {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url);
  if (pkg) return { group: pkg[1] as string, file: `${pkg[1]}/${pkg[2]}` };
  const dist = /\/dist\/(.+)\.js$/.exec(url);
  if (dist) return { group: 'src (ours)', file: `src/${dist[1]}.ts` };
  // Sources run as they are (tsx), in a profile of the bench process itself.
  const source = /\/((src|bench)\/.+\.ts)$/.exec(url);
  if (source) return { group: source[2] === 'src' ? 'src (ours)' : 'bench', file: source[1] as string };
  if (url.startsWith('node:')) return { group: 'node internals', file: url };
  if (url !== '') return { group: url, file: url };
  // No URL: VM states, builtins, and code made with new Function (protobufjs's codecs).
  if (/^\(.*\)$/.test(name)) return { group: name, file: '' };
  return { group: /\$/.test(name) ? 'protobufjs generated codecs' : 'builtins', file: '' };
}

/** The top self-time functions of a .cpuprofile, our src/ first, as text. */
export function profileSummary(file: string, n = 15): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));

  // Each sample's time is the delta to the next one, charged to the sampled
  // (innermost) frame. Idle time is left out: percentages are of busy time.
  const selfUs = new Map<number, number>();
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0;
    if ((byId.get(id) as ProfileNode).callFrame.functionName === '(idle)') idleUs += us;
    else selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  });
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

  const functions = new Map<string, { us: number; group: string }>();
  const groups = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    const { group, file: f } = where(frame.url, frame.functionName);
    const key = `${frame.functionName || '(anonymous)'}  ${f}${f ? `:${frame.lineNumber + 1}` : ''}`;
    const entry = functions.get(key) ?? { us: 0, group };
    entry.us += us;
    functions.set(key, entry);
    groups.set(group, (groups.get(group) ?? 0) + us);
  }

  const pct = (us: number) => `${((100 * us) / totalUs).toFixed(1).padStart(5)}%`;
  const top = (rows: [string, number][]) =>
    rows
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `${pct(us)}  ${k}`)
      .join('\n');
  const ours = [...functions]
    .filter(([, v]) => v.group === 'src (ours)')
    .map(([k, v]): [string, number] => [k, v.us]);
  return [
    `busy ${(totalUs / 1e6).toFixed(2)} s, idle ${(idleUs / 1e6).toFixed(2)} s; percentages are of busy time`,
    `top self time in src/ (dist/ line numbers):\n${top(ours)}`,
    `top self time overall:\n${top([...functions].map(([k, v]) => [k, v.us]))}`,
    `self time by package:\n${top([...groups])}`,
  ].join('\n\n');
}
