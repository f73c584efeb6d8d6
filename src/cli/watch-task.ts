import { toJsonString } from "@bufbuild/protobuf";
import { TaskInfoSchema, TaskStatus, type TaskInfo } from "../../generated/cairn/v1/tasks_pb.js";
import { describeProgress, formatTask, statusLabel, type TaskPayloads } from "./format-task.js";

function isEnded(status: TaskStatus): boolean {
  return status === TaskStatus.COMPLETED || status === TaskStatus.ABORTED || status === TaskStatus.FAILED ||
    status === TaskStatus.CANCELLED;
}

/** One line of `tasks watch`: the status, then the progress. */
export function watchLine(info: TaskInfo): string {
  return `${statusLabel(info.status).padEnd(9)}  ${describeProgress(info.progress)}`;
}

interface Output {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

/**
 * `tasks watch`: a single line rewritten in place on a terminal, plain
 * lines (one per change) otherwise, or JSON lines; then the task as
 * `tasks show` prints it, with `payloads` for its result. Returns the last
 * TaskInfo seen.
 */
export async function renderWatch(
  stream: AsyncIterable<TaskInfo>,
  out: Output,
  json: boolean,
  payloads: (info: TaskInfo) => Promise<TaskPayloads> = async () => ({}),
): Promise<TaskInfo | undefined> {
  let last: TaskInfo | undefined;
  let lastLine = "";
  const tty = out.isTTY === true && !json;
  for await (const info of stream) {
    last = info;
    if (json) {
      out.write(`${toJsonString(TaskInfoSchema, info)}\n`);
      continue;
    }
    const line = watchLine(info);
    if (line === lastLine) continue;
    lastLine = line;
    if (tty) {
      // Cut to the terminal's width: a wrapped line cannot be rewritten.
      const width = Math.max(20, (out.columns ?? 80) - 1);
      out.write(`\r\x1b[K${line.slice(0, width)}`);
    } else {
      out.write(`${line}\n`);
    }
  }
  if (tty && lastLine) out.write("\n");
  if (last && !json && isEnded(last.status)) out.write(`${formatTask(last, Date.now(), await payloads(last))}\n`);
  return last;
}
