/**
 * The first SIGINT or SIGTERM. Only the first is ours: with our listeners
 * gone, a second one ends the process at once (node's default).
 */
export function firstStopSignal(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>((resolve) => {
    const stop = (name: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(name);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
