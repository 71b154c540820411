import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Clients built on protobuf runtimes other than protobufjs, whose descriptor
// builders refuse what protoc would not have written (see test/strict_client/).

/** Debian's python3 with python3-grpcio and python3-protobuf; not whatever `python3` is on PATH. */
const PYTHON = '/usr/bin/python3';
const REFLECT_PY = fileURLToPath(new URL('../strict_client/reflect.py', import.meta.url));
const BUF = fileURLToPath(new URL('../../node_modules/.bin/buf', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end; a non-zero exit is a result, not a rejection. */
function run(file: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: REPO_ROOT, timeout: timeoutMs, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** `reflect.py [--reflection VERSION] ADDR ...args` (list, describe SYMBOL, call SERVICE/METHOD JSON). */
export function pythonClient(addr: string, args: string[], version: 'v1' | 'v1alpha' = 'v1'): Promise<Run> {
  return run(PYTHON, [REFLECT_PY, '--reflection', version, addr, ...args]);
}

/** `buf curl` over gRPC with server reflection (Go protobuf's protodesc builds what it gets). */
export function bufCurl(
  args: string[],
  reflectProtocol: 'grpc-v1' | 'grpc-v1alpha' = 'grpc-v1',
): Promise<Run> {
  return run(BUF, [
    'curl',
    '--protocol',
    'grpc',
    '--http2-prior-knowledge',
    '--reflect-protocol',
    reflectProtocol,
    ...args,
  ]);
}

/** Runs one shell command line from the repository root, as a reader would paste it. */
export function shell(command: string): Promise<Run> {
  return run('bash', ['-c', command]);
}
