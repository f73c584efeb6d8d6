import { create, toBinary, type DescFile } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";

/**
 * A google.protobuf.FileDescriptorSet (binary) of `files` and everything
 * they import, each once, imports before their importers: what a client
 * (the inspector's page) builds a registry from to decode any of their
 * messages.
 */
export function fileDescriptorSet(files: Iterable<DescFile>): Uint8Array {
  const out = new Map<string, FileDescriptorProto>();
  const visit = (file: DescFile): void => {
    if (out.has(file.proto.name)) return;
    for (const dep of file.dependencies) visit(dep);
    out.set(file.proto.name, file.proto);
  };
  for (const file of files) visit(file);
  return toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [...out.values()] }));
}
