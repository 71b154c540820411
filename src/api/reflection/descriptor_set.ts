import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import descriptorJson from 'protobufjs/google/protobuf/descriptor.json' with { type: 'json' };

/**
 * The protos under proto/ as `npm run build` compiles them (`buf build
 * --exclude-source-info`, byte for byte what `protoc --include_imports
 * --descriptor_set_out` writes). Three levels up is the package root from
 * both src/api/reflection/ (tests) and dist/api/reflection/.
 */
const DESCRIPTOR_SET_PATH = fileURLToPath(new URL('../../../dist/proto/descriptors.binpb', import.meta.url));

/** The parts of a FileDescriptorProto the index reads (protobufjs names them in camelCase). */
export interface FileProto {
  name: string;
  package: string;
  dependency: string[];
  messageType: MessageProto[];
  enumType: EnumProto[];
  service: { name: string; method: { name: string }[] }[];
  extension: FieldProto[];
}

export interface MessageProto {
  name: string;
  field: FieldProto[];
  oneofDecl: { name: string }[];
  nestedType: MessageProto[];
  enumType: EnumProto[];
  extension: FieldProto[];
}

export interface EnumProto {
  name: string;
  value: { name: string }[];
}

export interface FieldProto {
  name: string;
  number: number;
  /** Fully qualified with a leading dot, as protoc writes it; set on extensions only. */
  extendee: string;
}

/** One file of the set: its bytes exactly as compiled (served untouched) and what they say. */
export interface DescribedFile {
  readonly bytes: Uint8Array;
  readonly proto: FileProto;
}

const FileDescriptorProto = protobuf.Root.fromJSON(descriptorJson as protobuf.INamespace).lookupType(
  'google.protobuf.FileDescriptorProto',
);

/** FileDescriptorSet.file is field 1, length-delimited. */
const FILE_TAG = (1 << 3) | 2;

export function readDescriptorSet(path: string = DESCRIPTOR_SET_PATH): DescribedFile[] {
  let set: Buffer;
  try {
    set = readFileSync(path);
  } catch (error) {
    throw new Error(`cannot read the compiled protos at ${path} (npm run build writes them)`, {
      cause: error,
    });
  }
  return splitDescriptorSet(set);
}

/**
 * Cuts a serialized FileDescriptorSet into its files without re-encoding them:
 * decoding and encoding again may reorder or drop bytes, and strict clients
 * must get exactly what protoc wrote.
 */
export function splitDescriptorSet(set: Uint8Array): DescribedFile[] {
  const reader = protobuf.Reader.create(set);
  const files: DescribedFile[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag !== FILE_TAG) {
      reader.skipType(tag & 7);
      continue;
    }
    const bytes = reader.bytes();
    const proto = FileDescriptorProto.toObject(FileDescriptorProto.decode(bytes), {
      arrays: true,
      defaults: true,
    }) as FileProto;
    files.push({ bytes, proto });
  }
  return files;
}
