"""A gRPC client that learns the API through server reflection only.

It builds every descriptor it receives in a fresh DescriptorPool, the strict
builder of the C++ protobuf runtime that grpcurl's and Postman's rules mirror:
a descriptor with a hand-made map entry or an unresolvable import is refused
here just as it is there. Needs nothing but Debian's python3-grpcio and
python3-protobuf (there is no grpcio-reflection package), so the reflection
messages are declared below from a FileDescriptorProto.

  reflect.py [--reflection v1|v1alpha] ADDR list [SERVICE]
  reflect.py [--reflection v1|v1alpha] ADDR describe SYMBOL
  reflect.py [--reflection v1|v1alpha] ADDR files FILE...
  reflect.py [--reflection v1|v1alpha] ADDR call SERVICE/METHOD JSON

`files` asks for each file by name, builds it with its imports, and
describes every service, message and enum it declares, under a line
`== FILE`.

Exits non-zero with the reason on stderr when anything fails.
"""

import argparse
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

TIMEOUT_S = 30

F = descriptor_pb2.FieldDescriptorProto


def _message_classes(pool, names):
    # GetMessageClass arrived in protobuf 4.22; Debian 12 ships 4.21.
    if hasattr(message_factory, 'GetMessageClass'):
        return [message_factory.GetMessageClass(pool.FindMessageTypeByName(n)) for n in names]
    factory = message_factory.MessageFactory(pool)
    return [factory.GetPrototype(pool.FindMessageTypeByName(n)) for n in names]


def reflection_messages():
    """ServerReflectionRequest and ServerReflectionResponse (the same wire format in v1 and v1alpha)."""
    fdp = descriptor_pb2.FileDescriptorProto(
        name='strict_client/reflection.proto', package='strict_client', syntax='proto3'
    )

    def message(name, fields, oneof=None):
        m = fdp.message_type.add(name=name)
        if oneof is not None:
            m.oneof_decl.add(name=oneof)
        for field_name, number, kind, type_name, repeated, in_oneof in fields:
            f = m.field.add(name=field_name, number=number, type=kind)
            f.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
            if type_name:
                f.type_name = '.strict_client.' + type_name
            if in_oneof:
                f.oneof_index = 0

    s, i32, b, msg = F.TYPE_STRING, F.TYPE_INT32, F.TYPE_BYTES, F.TYPE_MESSAGE
    message('ExtensionRequest', [('containing_type', 1, s, '', False, False), ('extension_number', 2, i32, '', False, False)])
    message(
        'ServerReflectionRequest',
        [
            ('host', 1, s, '', False, False),
            ('file_by_filename', 3, s, '', False, True),
            ('file_containing_symbol', 4, s, '', False, True),
            ('file_containing_extension', 5, msg, 'ExtensionRequest', False, True),
            ('all_extension_numbers_of_type', 6, s, '', False, True),
            ('list_services', 7, s, '', False, True),
        ],
        oneof='message_request',
    )
    message('FileDescriptorResponse', [('file_descriptor_proto', 1, b, '', True, False)])
    message('ExtensionNumberResponse', [('base_type_name', 1, s, '', False, False), ('extension_number', 2, i32, '', True, False)])
    message('ServiceResponse', [('name', 1, s, '', False, False)])
    message('ListServiceResponse', [('service', 1, msg, 'ServiceResponse', True, False)])
    message('ErrorResponse', [('error_code', 1, i32, '', False, False), ('error_message', 2, s, '', False, False)])
    message(
        'ServerReflectionResponse',
        [
            ('valid_host', 1, s, '', False, False),
            ('original_request', 2, msg, 'ServerReflectionRequest', False, False),
            ('file_descriptor_response', 4, msg, 'FileDescriptorResponse', False, True),
            ('all_extension_numbers_response', 5, msg, 'ExtensionNumberResponse', False, True),
            ('list_services_response', 6, msg, 'ListServiceResponse', False, True),
            ('error_response', 7, msg, 'ErrorResponse', False, True),
        ],
        oneof='message_response',
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return _message_classes(pool, ['strict_client.ServerReflectionRequest', 'strict_client.ServerReflectionResponse'])


class Failure(Exception):
    pass


STATUS_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


class Reflection:
    def __init__(self, channel, version):
        self.request, response = reflection_messages()
        self.info = channel.stream_stream(
            f'/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo',
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response.FromString,
        )
        self.files = {}  # name -> (FileDescriptorProto, its bytes as received)
        self.pool = descriptor_pool.DescriptorPool()
        self.built = set()

    def ask(self, **fields):
        responses = list(self.info(iter([self.request(**fields)]), timeout=TIMEOUT_S))
        if len(responses) != 1:
            raise Failure(f'reflection sent {len(responses)} responses to one request')
        (response,) = responses
        kind = response.WhichOneof('message_response')
        if kind == 'error_response':
            e = response.error_response
            code = STATUS_NAMES.get(e.error_code, str(e.error_code))
            raise Failure(f'reflection answered {code}: {e.error_message}')
        return response

    def services(self):
        return sorted(s.name for s in self.ask(list_services='').list_services_response.service)

    def _receive(self, response):
        for raw in response.file_descriptor_response.file_descriptor_proto:
            fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self.files.setdefault(fdp.name, (fdp, raw))

    def _build(self, name, path=()):
        if name in self.built:
            return
        if name in path:
            raise Failure(f'import cycle through {name}')
        if name not in self.files:
            self._receive(self.ask(file_by_filename=name))
        if name not in self.files:
            raise Failure(f'the server did not send {name}')
        fdp, raw = self.files[name]
        for dep in fdp.dependency:
            self._build(dep, path + (name,))
        # The serialized bytes as served, not a re-encoding: this is what a strict client builds.
        self.pool.AddSerializedFile(raw)
        self.built.add(name)

    def load_file(self, name):
        self._build(name)
        return self.pool.FindFileByName(name)

    def load_symbol(self, symbol):
        response = self.ask(file_containing_symbol=symbol)
        self._receive(response)
        first = descriptor_pb2.FileDescriptorProto.FromString(response.file_descriptor_response.file_descriptor_proto[0])
        self._build(first.name)


SCALARS = {
    F.TYPE_DOUBLE: 'double', F.TYPE_FLOAT: 'float', F.TYPE_INT64: 'int64', F.TYPE_UINT64: 'uint64',
    F.TYPE_INT32: 'int32', F.TYPE_FIXED64: 'fixed64', F.TYPE_FIXED32: 'fixed32', F.TYPE_BOOL: 'bool',
    F.TYPE_STRING: 'string', F.TYPE_BYTES: 'bytes', F.TYPE_UINT32: 'uint32', F.TYPE_SFIXED32: 'sfixed32',
    F.TYPE_SFIXED64: 'sfixed64', F.TYPE_SINT32: 'sint32', F.TYPE_SINT64: 'sint64',
}


def type_name(field):
    if field.message_type is not None:
        return '.' + field.message_type.full_name
    if field.enum_type is not None:
        return '.' + field.enum_type.full_name
    return SCALARS[field.type]


def field_line(field):
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        key, value = entry.fields_by_name['key'], entry.fields_by_name['value']
        return f'map<{type_name(key)}, {type_name(value)}> {field.name} = {field.number};'
    label = 'repeated ' if field.label == F.LABEL_REPEATED else ''
    return f'{label}{type_name(field)} {field.name} = {field.number};'


def enum_lines(enum):
    return [f'enum {enum.name} {{'] + [f'  {v.name} = {v.number};' for v in enum.values] + ['}']


def message_lines(message):
    lines = [f'message {message.name} {{']
    body, done = [], set()
    for field in sorted(message.fields, key=lambda f: f.number):
        oneof = field.containing_oneof
        if oneof is None:
            body.append(field_line(field))
        elif oneof.name not in done:
            done.add(oneof.name)
            body += [f'oneof {oneof.name} {{'] + ['  ' + field_line(f) for f in oneof.fields] + ['}']
    for nested in message.nested_types:
        if not nested.GetOptions().map_entry:
            body += message_lines(nested)
    for enum in message.enum_types:
        body += enum_lines(enum)
    return lines + ['  ' + line for line in body] + ['}']


def method_line(method):
    # The descriptor keeps streaming in the MethodDescriptorProto only.
    proto = descriptor_pb2.MethodDescriptorProto()
    method.CopyToProto(proto)
    streams = ('stream ' if proto.client_streaming else '', 'stream ' if proto.server_streaming else '')
    return (
        f'rpc {method.name} ( {streams[0]}.{method.input_type.full_name} )'
        f' returns ( {streams[1]}.{method.output_type.full_name} );'
    )


def describe(reflection, symbol):
    reflection.load_symbol(symbol)
    return render(reflection.pool, symbol)


def describe_files(reflection, names):
    lines = []
    for name in names:
        file = reflection.load_file(name)
        declared = [*file.services_by_name, *file.message_types_by_name, *file.enum_types_by_name]
        prefix = f'{file.package}.' if file.package else ''
        lines.append(f'== {name}')
        for symbol in sorted(declared):
            lines += render(reflection.pool, prefix + symbol)
    return lines


def render(pool, symbol):
    for find, kind, lines_of in (
        (pool.FindServiceByName, 'a service', lambda s: [f'service {s.name} {{'] + ['  ' + method_line(m) for m in sorted(s.methods, key=lambda m: m.name)] + ['}']),
        (pool.FindMessageTypeByName, 'a message', message_lines),
        (pool.FindEnumTypeByName, 'an enum', enum_lines),
    ):
        try:
            found = find(symbol)
        except KeyError:
            continue
        return [f'{symbol} is {kind}:'] + lines_of(found)
    service_name, _, method_name = symbol.rpartition('.')
    try:
        method = pool.FindServiceByName(service_name).methods_by_name[method_name]
    except KeyError:
        raise Failure(f'{symbol} is not a service, method, message or enum') from None
    return [f'{symbol} is a method:', method_line(method)]


def call(channel, reflection, target, body):
    service_name, _, method_name = target.partition('/')
    reflection.load_symbol(service_name)
    method = reflection.pool.FindServiceByName(service_name).methods_by_name.get(method_name)
    if method is None:
        raise Failure(f'{service_name} has no method {method_name}')
    request_class, response_class = _message_classes(
        reflection.pool, [method.input_type.full_name, method.output_type.full_name]
    )
    request = json_format.Parse(body, request_class())
    invoke = channel.unary_unary(
        f'/{service_name}/{method_name}',
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    reply = invoke(request, timeout=TIMEOUT_S)
    # What json_format.MessageToJson prints, with map entries sorted by key:
    # the C++ runtime iterates a map in no fixed order.
    return [json.dumps(sort_maps(reply.DESCRIPTOR, json_format.MessageToDict(reply)), indent=2)]


def sort_maps(descriptor, value):
    if descriptor.full_name.startswith('google.protobuf.'):
        return value  # well-known types have JSON forms of their own
    for field in descriptor.fields:
        if field.json_name not in value or field.message_type is None:
            continue
        entry = field.message_type
        if entry.GetOptions().map_entry:
            mapped = value[field.json_name]
            target = entry.fields_by_name['value'].message_type
            value[field.json_name] = {
                k: mapped[k] if target is None else sort_maps(target, mapped[k]) for k in sorted(mapped)
            }
        elif field.label == F.LABEL_REPEATED:
            value[field.json_name] = [sort_maps(entry, item) for item in value[field.json_name]]
        else:
            value[field.json_name] = sort_maps(entry, value[field.json_name])
    return value


def main(argv):
    parser = argparse.ArgumentParser(description='gRPC client that uses server reflection only')
    parser.add_argument('--reflection', choices=['v1', 'v1alpha'], default='v1')
    parser.add_argument('addr')
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('list').add_argument('service', nargs='?')
    commands.add_parser('describe').add_argument('symbol')
    commands.add_parser('files').add_argument('files', nargs='+')
    call_parser = commands.add_parser('call')
    call_parser.add_argument('method', help='SERVICE/METHOD')
    call_parser.add_argument('json')
    args = parser.parse_args(argv)

    with grpc.insecure_channel(args.addr) as channel:
        reflection = Reflection(channel, args.reflection)
        if args.command == 'list' and args.service is None:
            lines = reflection.services()
        elif args.command == 'list':
            reflection.load_symbol(args.service)
            methods = reflection.pool.FindServiceByName(args.service).methods
            lines = sorted(f'{args.service}.{m.name}' for m in methods)
        elif args.command == 'describe':
            lines = describe(reflection, args.symbol)
        elif args.command == 'files':
            lines = describe_files(reflection, args.files)
        else:
            lines = call(channel, reflection, args.method, args.json)
    print('\n'.join(lines))


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except grpc.RpcError as e:
        print(f'ERROR: {e.code().name}: {e.details()}', file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - every failure must reach stderr with a non-zero exit
        print(f'ERROR: {type(e).__name__}: {e}', file=sys.stderr)
        sys.exit(1)
