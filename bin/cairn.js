#!/usr/bin/env node
// The `cairn` command, on plain node from the compiled dist/.
import { main } from "../dist/src/cli/main.js";

process.exit(await main(process.argv.slice(2)));
