import type { DescMethod } from "@bufbuild/protobuf";
import type { StateModel } from "../validate.js";

/**
 * `<Method>Aborted` reads best, but two services in one file may share a
 * method name; only then do we prefix the state name to keep exports unique.
 */
export function abortedNames(models: readonly StateModel[]): Map<DescMethod, string> {
  const count = new Map<string, number>();
  const withErrors = models.flatMap((s) => s.methods.filter((m) => m.errors.length > 0).map((m) => ({ s, m })));
  for (const { m } of withErrors) count.set(m.desc.name, (count.get(m.desc.name) ?? 0) + 1);
  return new Map(
    withErrors.map(({ s, m }) => [
      m.desc,
      (count.get(m.desc.name)! > 1 ? s.state.name : "") + m.desc.name + "Aborted",
    ]),
  );
}
