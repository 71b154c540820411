import type { DescribedFile, EnumProto, FieldProto, MessageProto } from './descriptor_set.js';

/**
 * Every fully qualified name a compiled proto declares (packages aside),
 * mapped to the file that declares it, plus the extensions of each message.
 * Built once at start; a set whose imports do not resolve is refused here,
 * so no client can be handed a file it cannot build.
 */
export class DescriptorIndex {
  readonly #files = new Map<string, DescribedFile>();
  readonly #fileOfSymbol = new Map<string, string>();
  readonly #messages = new Set<string>();
  /** extendee (no leading dot) → field number → file */
  readonly #extensions = new Map<string, Map<number, string>>();
  /** Every service of the set, sorted: proto/ holds exactly the services the server registers. */
  readonly services: readonly string[];

  constructor(files: readonly DescribedFile[]) {
    const services: string[] = [];
    for (const file of files) {
      const { name } = file.proto;
      if (this.#files.has(name)) throw new Error(`descriptor set holds ${name} twice`);
      this.#files.set(name, file);
      const scope = file.proto.package;
      for (const message of file.proto.messageType) this.#addMessage(name, scope, message);
      for (const e of file.proto.enumType) this.#addEnum(name, scope, e);
      for (const extension of file.proto.extension) this.#addExtension(name, scope, extension);
      for (const service of file.proto.service) {
        const full = qualify(scope, service.name);
        services.push(full);
        this.#symbol(name, full);
        for (const method of service.method) this.#symbol(name, qualify(full, method.name));
      }
    }
    for (const file of files) {
      for (const dependency of file.proto.dependency) {
        if (!this.#files.has(dependency))
          throw new Error(`descriptor set lacks ${dependency}, imported by ${file.proto.name}`);
      }
    }
    this.services = services.sort();
  }

  /** The file's bytes followed by those of every file it imports, directly or not. */
  withDependencies(fileName: string): Uint8Array[] | undefined {
    if (!this.#files.has(fileName)) return undefined;
    const seen = new Set<string>([fileName]);
    const order = [fileName];
    for (let i = 0; i < order.length; i++) {
      for (const dependency of this.#files.get(order[i] as string)?.proto.dependency ?? []) {
        if (!seen.has(dependency)) {
          seen.add(dependency);
          order.push(dependency);
        }
      }
    }
    return order.map((name) => (this.#files.get(name) as DescribedFile).bytes);
  }

  fileOfSymbol(symbol: string): string | undefined {
    return this.#fileOfSymbol.get(symbol);
  }

  fileOfExtension(messageType: string, fieldNumber: number): string | undefined {
    return this.#extensions.get(messageType)?.get(fieldNumber);
  }

  /** The field numbers of every extension of `messageType`; undefined when no such message exists. */
  extensionNumbers(messageType: string): number[] | undefined {
    if (!this.#messages.has(messageType)) return undefined;
    return [...(this.#extensions.get(messageType)?.keys() ?? [])].sort((a, b) => a - b);
  }

  #symbol(file: string, full: string): void {
    this.#fileOfSymbol.set(full, file);
  }

  #addMessage(file: string, scope: string, message: MessageProto): void {
    const full = qualify(scope, message.name);
    this.#messages.add(full);
    this.#symbol(file, full);
    for (const field of message.field) this.#symbol(file, qualify(full, field.name));
    for (const oneof of message.oneofDecl) this.#symbol(file, qualify(full, oneof.name));
    for (const nested of message.nestedType) this.#addMessage(file, full, nested);
    for (const e of message.enumType) this.#addEnum(file, full, e);
    for (const extension of message.extension) this.#addExtension(file, full, extension);
  }

  #addEnum(file: string, scope: string, e: EnumProto): void {
    this.#symbol(file, qualify(scope, e.name));
    // Enum values are scoped beside their enum, not inside it (C++ scoping rules).
    for (const value of e.value) this.#symbol(file, qualify(scope, value.name));
  }

  #addExtension(file: string, scope: string, extension: FieldProto): void {
    this.#symbol(file, qualify(scope, extension.name));
    const extendee = extension.extendee.replace(/^\./, '');
    let numbers = this.#extensions.get(extendee);
    if (numbers === undefined) {
      numbers = new Map();
      this.#extensions.set(extendee, numbers);
    }
    numbers.set(extension.number, file);
  }
}

function qualify(scope: string, name: string): string {
  return scope === '' ? name : `${scope}.${name}`;
}
