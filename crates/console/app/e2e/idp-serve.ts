// The test provider as a process of its own, for tests outside the browser (sage's):
// `vite-node e2e/idp-serve.ts` with SAGE_IDP_PORT; SAGE_IDP_DEVICE_FLOW=off offers only
// the code flow, =not-to-sage offers the device grant but not to sage's client. Prints
// "ready <issuer>" once it listens; stops on SIGTERM.

import { startIdp } from "./idp";

const port = Number(process.env.SAGE_IDP_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error("SAGE_IDP_PORT must be a port");
const idp = await startIdp(port, process.env.SAGE_IDP_CONSOLE_ORIGIN ?? "http://127.0.0.1:9", {
  deviceFlow: process.env.SAGE_IDP_DEVICE_FLOW !== "off",
  deviceGrantToSage: process.env.SAGE_IDP_DEVICE_FLOW !== "not-to-sage",
});
console.log(`ready ${idp.issuer}`);
process.on("SIGTERM", () => {
  void idp.close().then(() => process.exit(0));
});
