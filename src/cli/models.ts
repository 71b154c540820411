import { connect } from './client.js';

export interface ModelsOptions {
  addr: string;
  timeoutMs: string;
  output: 'text' | 'json';
}

interface ModelsReply {
  models: {
    name: string;
    current_version: string;
    mismatch: string;
    versions: { version: string; state: number; error: string }[];
  }[];
}

const STATES = ['?', 'ready', 'failed', 'unloaded'];

/** `infercache models`: every model, its current version and each version's state. */
export async function modelsCommand(o: ModelsOptions): Promise<void> {
  const client = connect(o.addr, Number(o.timeoutMs));
  try {
    const { models } = await client.call<ModelsReply>('ListModels', {});
    if (o.output === 'json') {
      process.stdout.write(`${JSON.stringify(models)}\n`);
      return;
    }
    for (const m of models) {
      const note = m.mismatch === '' ? '' : ` (the fleet chose ${m.mismatch}, not loadable here)`;
      process.stdout.write(`${m.name}  current ${m.current_version || 'none'}${note}\n`);
      for (const v of m.versions) {
        const why = v.error === '' ? '' : `: ${v.error}`;
        process.stdout.write(`  ${v.version}  ${STATES[v.state] ?? '?'}${why}\n`);
      }
    }
  } finally {
    client.close();
  }
}

/** `infercache models activate NAME [VERSION]`: the fleet's current version (none: back to the newest). */
export async function activateCommand(
  name: string,
  version: string | undefined,
  o: ModelsOptions,
): Promise<void> {
  const client = connect(o.addr, Number(o.timeoutMs));
  try {
    const reply = await client.call<{ model: string; current_version: string }>('ActivateModel', {
      model: name,
      version: version ?? '',
    });
    process.stdout.write(
      `${reply.model}: the fleet serves ${version ?? 'the newest version'}; this sidecar serves ${reply.current_version}\n`,
    );
  } finally {
    client.close();
  }
}
