import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The api serves the bundle on its own origin: `npm run dev` proxies the API to a
// running `just up` so the console can be worked on with hot reload.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    // No inline scripts or styles: the Content-Security-Policy allows only files.
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/openapi.json": "http://127.0.0.1:8080",
    },
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
});
