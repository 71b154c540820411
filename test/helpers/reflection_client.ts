import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type DescribedFile, splitDescriptorSet } from '../../src/api/reflection/descriptor_set.js';

export const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));

export type ReflectionVersion = 'v1' | 'v1alpha';

export interface ReflectionResponse {
  valid_host: string;
  original_request?: Record<string, unknown> | null;
  list_services_response?: { service: { name: string }[] } | null;
  file_descriptor_response?: { file_descriptor_proto: Buffer[] } | null;
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] } | null;
  error_response?: { error_code: number; error_message: string } | null;
  message_response: string;
}

/** Sends each request on one ServerReflectionInfo stream and collects one response per request. */
export async function reflect(
  addr: string,
  requests: Record<string, unknown>[],
  version: ReflectionVersion = 'v1',
): Promise<ReflectionResponse[]> {
  const definition = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTO_ROOT],
  });
  const Client = grpc.makeGenericClientConstructor(
    definition[`grpc.reflection.${version}.ServerReflection`] as grpc.ServiceDefinition,
    'ServerReflection',
  );
  const client = new Client(addr, grpc.credentials.createInsecure());
  try {
    const stream = (
      client as unknown as {
        ServerReflectionInfo(o: grpc.CallOptions): grpc.ClientDuplexStream<unknown, ReflectionResponse>;
      }
    ).ServerReflectionInfo({ deadline: Date.now() + 15_000 });
    const responses: ReflectionResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (r: ReflectionResponse) => {
        responses.push(r);
        if (responses.length === requests.length) stream.end();
      });
      stream.on('error', reject);
      stream.on('end', () => resolve());
    });
    for (const r of requests) stream.write(r);
    await done;
    return responses;
  } finally {
    client.close();
  }
}

/** Wraps FileDescriptorProtos in a FileDescriptorSet (field 1, length-delimited). */
export function descriptorSet(files: Uint8Array[]): Buffer {
  const varint = (n: number) => {
    const bytes: number[] = [];
    while (n > 0x7f) {
      bytes.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    bytes.push(n);
    return Buffer.from(bytes);
  };
  return Buffer.concat(files.flatMap((f) => [Buffer.from([0x0a]), varint(f.length), f]));
}

/** The served FileDescriptorProtos, decoded enough to read names and imports. */
export function describeFiles(files: Uint8Array[]): DescribedFile[] {
  return splitDescriptorSet(descriptorSet(files));
}

/** Every .proto file under `root`, relative to it, sorted. */
export function protoFiles(root: string = PROTO_ROOT): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.proto'))
    .map((f) => f.split('\\').join('/'))
    .sort();
}

/** `protoc -I root --include_imports --descriptor_set_out` over `files`: name → bytes, in protoc's order. */
export async function compileWithProtoc(
  root: string,
  files: string[] = protoFiles(root),
): Promise<Map<string, Uint8Array>> {
  const dir = await mkdtemp(join(tmpdir(), 'infercache-protoc-'));
  try {
    const out = join(dir, 'set.binpb');
    await promisify(execFile)('protoc', [
      '-I',
      root,
      '--include_imports',
      `--descriptor_set_out=${out}`,
      ...files,
    ]);
    return new Map(splitDescriptorSet(await readFile(out)).map((f) => [f.proto.name, f.bytes]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
