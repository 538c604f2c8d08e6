// A protoset (binary FileDescriptorSet) for ghz, built from the descriptors that
// protobuf-es generated code embeds: no protoc, no .proto files on disk.
import { create, toBinary, type DescFile } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

/** The files and everything they import, dependencies first. */
export function protoset(files: readonly DescFile[]): Uint8Array {
  const seen = new Set<string>();
  const ordered: FileDescriptorProto[] = [];
  const visit = (f: DescFile): void => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    for (const d of f.dependencies) visit(d);
    ordered.push(f.proto);
  };
  for (const f of files) visit(f);
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: ordered }));
}
