// Node only (the server and ExternalContext): the browser entry never
// imports this file, and hashes with callKeys(sha256) instead.
import { createHash } from "node:crypto";
import { callKeys } from "./call-keys.js";

/** The call-key rule over node:crypto. */
export const NODE_CALL_KEYS = callKeys((text) => createHash("sha256").update(text).digest());
