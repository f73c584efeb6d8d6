// Generated `_pb.ts` files import @bufbuild/protobuf from the user's project,
// while cairn's runtime uses its own: both must be the version protoc-gen-es
// generates for, or messages and registries of two copies get mixed.
import { PACKAGE_NAME, PACKAGE_ROOT, dependencyDir, findPackageDir, readPackageJson } from "./package-paths.js";

/** Undefined when all agree; otherwise what is wrong and the command that fixes it. */
export function protobufVersionProblem(projectDir: string): string | undefined {
  const generator = readPackageJson(dependencyDir("@bufbuild/protoc-gen-es")).version;
  const ours = readPackageJson(dependencyDir("@bufbuild/protobuf")).version;
  const projectCopy = findPackageDir("@bufbuild/protobuf", projectDir);
  const theirs = projectCopy === undefined ? undefined : readPackageJson(projectCopy).version;
  const fix = `npm install --save-exact @bufbuild/protobuf@${generator}`;
  if (ours !== generator) {
    return `${PACKAGE_NAME} (at ${PACKAGE_ROOT}) has @bufbuild/protobuf ${ours} but protoc-gen-es ${generator}; reinstall ${PACKAGE_NAME}`;
  }
  if (theirs === undefined) {
    return `the generated code imports @bufbuild/protobuf, which this project does not have: ${fix}`;
  }
  if (theirs !== generator) {
    return `this project has @bufbuild/protobuf ${theirs}, but ${PACKAGE_NAME} generates code for and runs with ${generator}: ${fix}`;
  }
  return undefined;
}
