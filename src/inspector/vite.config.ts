// `npm run inspector:build`: the web inspector's page into dist/inspector,
// which the application serves at /__/cairn/ (src/transport/inspector-route.ts).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const src = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/__/cairn/",
  resolve: { alias: { "@cairn-dev/cairn/web": src("web/index.ts"), "@cairn-dev/cairn/react": src("react/index.tsx") } },
  mode: "production",
  // Production JSX and React whatever NODE_ENV the build runs under (vitest sets "test").
  oxc: { jsx: { runtime: "automatic", development: false } },
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: fileURLToPath(new URL("../../dist/inspector", import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    // Safari 16 is the oldest Safari served: nothing newer than it parses (no class static blocks, which came in 16.4).
    target: ["chrome111", "edge111", "firefox115", "safari16"],
  },
  logLevel: "warn",
});
