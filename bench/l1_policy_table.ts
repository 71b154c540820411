/**
 * `npm run bench:policy`: replays the L1 policy traces of the l1_policy
 * scenario through the simulator and writes the table into the README,
 * between its simulate markers (the bench section is left alone). Seconds,
 * not minutes, and no server: the numbers are hit ratios, not timings.
 */
import { fileURLToPath } from 'node:url';
import { updateReadme } from './lib/report.js';
import { runPolicies } from './scenarios/l1_policy.js';

const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const tmp = fileURLToPath(new URL('./results/README.md.tmp', import.meta.url));
const { markdown } = runPolicies();
if (!updateReadme(readme, markdown, tmp, 'simulate'))
  process.stderr.write('README.md has no simulate markers\n');
process.stdout.write(`${markdown}\n`);
