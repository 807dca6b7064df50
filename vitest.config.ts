import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 120_000,
    // Integration suites start real processes (API server, proxies); run files one at a time on CI's 2 cores.
    fileParallelism: process.env.CI !== "true",
  },
});
