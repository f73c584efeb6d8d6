import { resolve } from "node:path";
import { EXIT, UsageError } from "./exit.js";
import { adoptLayout } from "./layout-adopt.js";
import { parseCommand } from "./options.js";
import { resize } from "./resize.js";
import { VolumeRefused } from "./volume-files.js";

// The offline layout commands: `cairn resize` and `cairn layout adopt`. Both
// run with every node stopped, on the nodes' data directories (on Kubernetes,
// a Job mounting every claim: deploy/kubernetes/jobs/resize.yaml).

const RESIZE_HELP = `Usage: cairn resize --nodes M2 [--dry-run] VOLUME...

  Moves partitions between the nodes' data directories when the number of
  nodes changes from M to M2 (both powers of two dividing the partition
  count N; M and N are read from the layout records). VOLUME i is node i's
  data directory: give max(M, M2) of them in node order (a new node's
  volume empty), or one folder that all the nodes share. Every node must be
  stopped: a volume whose LMDB environment a process has open is refused.

  Copies each partition that changes owner to its new volume and verifies
  it, switches the layout records to M2, then removes the sources. A
  journal (layout/resize.json) records how far it got: if the command is
  interrupted, run it again with the same arguments to finish. Nodes refuse
  to start while a resize is unfinished.

  --nodes M2   the new number of nodes
  --dry-run    print the plan and change nothing

  See deploy/kubernetes/README.md "Changing the number of nodes".`;

const ADOPT_HELP = `Usage: cairn layout adopt --nodes M --partitions N [--dry-run] VOLUME...

  Writes the layout records (layout/node-<i>.json) of data directories made
  before nodes recorded their layout, which the nodes otherwise refuse
  ("holds data but no layout record"). VOLUME i is node i's data directory
  (M of them, in node order) or one folder the nodes share. Refuses unless
  each holds exactly its node's partitions (p mod M = i) of N.

  --nodes M        the number of nodes the directories were used with
  --partitions N   their partition count (CAIRN_PARTITIONS)
  --dry-run        check and print the records, write nothing`;

export async function resizeCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, { nodes: { type: "string" }, "dry-run": { type: "boolean" } }, "resize");
  if (values.help) {
    console.log(RESIZE_HELP);
    return EXIT.ok;
  }
  const nodes = count(values.nodes, "--nodes", "resize");
  if (positionals.length === 0) throw new UsageError("give the nodes' data directories (VOLUME...), node 0's first", "resize");
  return refusals(() => resize({ volumes: positionals.map((v) => resolve(v)), nodes, dryRun: values["dry-run"] ?? false, log: (l) => console.log(l), env: process.env }));
}

export async function layoutCommand(command: string | undefined, args: readonly string[]): Promise<number> {
  if (command !== "adopt") throw new UsageError(`unknown layout command ${JSON.stringify(command ?? "")}: the one command is "adopt"`, "layout adopt");
  const options = { nodes: { type: "string" }, partitions: { type: "string" }, "dry-run": { type: "boolean" } } as const;
  const { values, positionals } = parseCommand(args, options, "layout adopt");
  if (values.help) {
    console.log(ADOPT_HELP);
    return EXIT.ok;
  }
  const nodes = count(values.nodes, "--nodes", "layout adopt");
  const partitions = count(values.partitions, "--partitions", "layout adopt");
  if (positionals.length === 0) throw new UsageError("give the nodes' data directories (VOLUME...), node 0's first", "layout adopt");
  const volumes = positionals.map((v) => resolve(v));
  return refusals(() => adoptLayout({ volumes, nodes, partitions, dryRun: values["dry-run"] ?? false, log: (l) => console.log(l) }));
}

function count(value: string | undefined, flag: string, command: string): number {
  if (value === undefined) throw new UsageError(`${flag} is required`, command);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number from 1, got ${JSON.stringify(value)}`, command);
  return n;
}

/** A refusal is exit 1 with its reason; anything else is a bug or an I/O failure, thrown. */
async function refusals(run: () => Promise<void>): Promise<number> {
  try {
    await run();
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof VolumeRefused) && !(e instanceof RangeError)) throw e;
    console.error(`cairn: ${e.message}`);
    return EXIT.failed;
  }
}
