import type { InspectorAccess } from "../transport/inspector-route.js";

/**
 * Who gets the web inspector at /__/cairn/, or undefined for nobody:
 * `false` or CAIRN_INSPECTOR=off turns it off; in production
 * (NODE_ENV=production) or with "operators" only operators get the page;
 * otherwise anyone does (its data still needs operator calls).
 */
export function inspectorAccess(option: boolean | "operators" | undefined, env: NodeJS.ProcessEnv = process.env): InspectorAccess | undefined {
  if (option === false) return undefined;
  if (option === undefined && env.CAIRN_INSPECTOR?.toLowerCase() === "off") return undefined;
  if (option === "operators" || env.NODE_ENV === "production") return "operators";
  return "open";
}
