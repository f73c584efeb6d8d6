#!/usr/bin/env node
// The `cairn` executable: Cairn ships TypeScript sources, so load tsx's ESM
// hooks first, then run the CLI.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exit(await main(process.argv.slice(2)));
