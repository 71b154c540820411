import { status } from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { answer, MAX_NAME_BYTES } from '../../../src/api/reflection/answer.js';
import { DescriptorIndex } from '../../../src/api/reflection/descriptor_index.js';
import { type DescribedFile, splitDescriptorSet } from '../../../src/api/reflection/descriptor_set.js';
import { compileWithProtoc, descriptorSet } from '../../helpers/reflection_client.js';

const FIXTURES = new URL('../../fixtures/protos', import.meta.url).pathname;

describe('reflection answers from a descriptor set', () => {
  let compiled: Map<string, Uint8Array>;
  let index: DescriptorIndex;
  const names = (files: Uint8Array[] | undefined) =>
    splitDescriptorSet(descriptorSet(files ?? [])).map((f) => f.proto.name);

  beforeAll(async () => {
    compiled = await compileWithProtoc(FIXTURES);
    index = new DescriptorIndex(splitDescriptorSet(descriptorSet([...compiled.values()])));
  });

  it('returns a file followed by everything it imports, directly or not', () => {
    const res = answer(index, {
      message_request: 'file_by_filename',
      file_by_filename: 'shop/storefront.proto',
    });
    const files = res.file_descriptor_response?.file_descriptor_proto;
    expect(names(files)).toEqual(['shop/storefront.proto', 'shop/ext.proto', 'shop/base.proto']);
    // Passed through as protoc wrote them, not re-encoded.
    expect(files?.map((f) => Buffer.from(f))).toEqual(
      ['shop/storefront.proto', 'shop/ext.proto', 'shop/base.proto'].map((n) =>
        Buffer.from(compiled.get(n) ?? []),
      ),
    );
  });

  it.each([
    ['shop.front.Storefront', 'shop/storefront.proto'],
    ['shop.front.Storefront.Check', 'shop/storefront.proto'],
    ['shop.Item.Detail', 'shop/base.proto'],
    ['shop.Item.Detail.Kind', 'shop/base.proto'],
    ['shop.Item.Detail.KIND_BOOK', 'shop/base.proto'],
    ['shop.Item.sku', 'shop/base.proto'],
    ['shop.ext.note', 'shop/ext.proto'],
    ['shop.ext.Stock.count', 'shop/ext.proto'],
  ])('finds the file that declares %s', (symbol, file) => {
    const res = answer(index, { message_request: 'file_containing_symbol', file_containing_symbol: symbol });
    expect(names(res.file_descriptor_response?.file_descriptor_proto)[0]).toBe(file);
  });

  it('scopes enum values beside their enum, as protoc does', () => {
    const res = answer(index, {
      message_request: 'file_containing_symbol',
      file_containing_symbol: 'shop.Item.Detail.Kind.KIND_BOOK',
    });
    expect(res.error_response?.error_code).toBe(status.NOT_FOUND);
  });

  it('finds extensions by their extended message and number, and lists those numbers', () => {
    const ext = answer(index, {
      message_request: 'file_containing_extension',
      file_containing_extension: { containing_type: 'shop.Item', extension_number: 120 },
    });
    expect(names(ext.file_descriptor_response?.file_descriptor_proto)).toEqual([
      'shop/ext.proto',
      'shop/base.proto',
    ]);
    const numbers = answer(index, {
      message_request: 'all_extension_numbers_of_type',
      all_extension_numbers_of_type: 'shop.Item',
    });
    expect(numbers.all_extension_numbers_response).toEqual({
      base_type_name: 'shop.Item',
      extension_number: [100, 120],
    });
  });

  it('lists the services of the set', () => {
    const res = answer(index, { message_request: 'list_services', list_services: '' });
    expect(res.list_services_response).toEqual({ service: [{ name: 'shop.front.Storefront' }] });
  });

  it('refuses every client string over the bound, naming the field but not its value', () => {
    const long = 'a'.repeat(MAX_NAME_BYTES + 1);
    const res = answer(index, {
      host: 'h',
      message_request: 'file_containing_extension',
      file_containing_extension: { containing_type: long, extension_number: 1 },
    });
    expect(res).toEqual({
      valid_host: '',
      error_response: {
        error_code: status.INVALID_ARGUMENT,
        error_message: 'file_containing_extension.containing_type is longer than 1024 bytes',
      },
    });
    const atBound = answer(index, {
      message_request: 'file_containing_symbol',
      file_containing_symbol: 'a'.repeat(MAX_NAME_BYTES),
    });
    expect(atBound.error_response?.error_message).toBe(`symbol "${'a'.repeat(64)}"... not found`);
  });

  it('answers INVALID_ARGUMENT to a request that asks nothing', () => {
    expect(answer(index, { host: 'h' }).error_response?.error_code).toBe(status.INVALID_ARGUMENT);
  });

  it('refuses a descriptor set that lacks a file one of its files imports', () => {
    const withoutBase: DescribedFile[] = splitDescriptorSet(
      descriptorSet([compiled.get('shop/ext.proto') ?? new Uint8Array()]),
    );
    expect(() => new DescriptorIndex(withoutBase)).toThrow(
      'descriptor set lacks shop/base.proto, imported by shop/ext.proto',
    );
  });
});
