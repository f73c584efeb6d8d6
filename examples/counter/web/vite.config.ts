// `npm run web:build`: the counter page into examples/counter/web/dist, which
// examples/counter/server.ts serves next to the API (same origin).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const src = (p: string) => fileURLToPath(new URL(`../../../src/${p}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  // The repo's own package: point its browser entries at the sources.
  resolve: { alias: { "@cairn-dev/cairn/web": src("web/index.ts"), "@cairn-dev/cairn/react": src("react/index.tsx") } },
  // TSX through Vite's built-in transform; no React plugin needed.
  oxc: { jsx: { runtime: "automatic" } },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  logLevel: "warn",
});
