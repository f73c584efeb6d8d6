// Turns a descriptor into "file.proto:LINE" so every codegen error points at
// the exact declaration the user has to fix, the way a compiler would.
import type { DescFile, DescMethod, DescService } from "@bufbuild/protobuf";

// Field numbers from google/protobuf/descriptor.proto: FileDescriptorProto
// .service = 6, ServiceDescriptorProto.method = 2.
const FILE_SERVICE = 6;
const SERVICE_METHOD = 2;

function pathOf(desc: DescService | DescMethod): number[] {
  if (desc.kind === "service") {
    return [FILE_SERVICE, desc.file.services.indexOf(desc)];
  }
  return [...pathOf(desc.parent), SERVICE_METHOD, desc.parent.methods.indexOf(desc)];
}

/** 1-based line of the declaration, or undefined without source info. */
export function lineOf(desc: DescService | DescMethod): number | undefined {
  const file: DescFile = desc.kind === "service" ? desc.file : desc.parent.file;
  const want = pathOf(desc);
  const loc = file.proto.sourceCodeInfo?.location.find(
    (l) => l.path.length === want.length && l.path.every((p, i) => p === want[i]),
  );
  // span[0] is the 0-based start line.
  return loc && loc.span.length > 0 ? loc.span[0]! + 1 : undefined;
}

/** "bank/v1/account.proto:34: bank.v1.AccountMethods.Withdraw" */
export function where(desc: DescService | DescMethod): string {
  const file = desc.kind === "service" ? desc.file : desc.parent.file;
  const line = lineOf(desc);
  const name = desc.kind === "service" ? desc.typeName : `${desc.parent.typeName}.${desc.name}`;
  return `${file.proto.name}${line === undefined ? "" : `:${line}`}: ${name}`;
}
