import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    alias: {
      "@cairn-dev/cairn/testing": fileURLToPath(new URL("./src/testing/index.ts", import.meta.url)),
      "@cairn-dev/cairn/web": fileURLToPath(new URL("./src/web/index.ts", import.meta.url)),
      "@cairn-dev/cairn/react": fileURLToPath(new URL("./src/react/index.tsx", import.meta.url)),
      "@cairn-dev/cairn": fileURLToPath(new URL("./src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.spec.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
