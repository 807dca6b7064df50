/** Entry point: configuration, then one of serve / check / compile. Wiring only. */
import { runCheck } from "./commands/check.ts";
import { runCompile } from "./commands/compile.ts";
import { loadConfig, USAGE, UsageError, type Config } from "./config.ts";
import { startApp } from "./runtime/app.ts";
import { createLogger } from "./runtime/logger.ts";

const stdout = (text: string) => void process.stdout.write(text);
const stderr = (line: string) => void process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message !== "") stderr(`portcullis: ${e.message}`);
    stderr(USAGE);
    return 2;
  }
  switch (config.command) {
    case "check":
      return runCheck(config, stdout, (l) => stderr(`warning: ${l}`));
    case "compile":
      return runCompile(config, stdout, (l) => stderr(`warning: ${l}`), new Date());
    case "serve": {
      const logger = createLogger(config.logLevel);
      const app = await startApp(config, logger);
      logger.info({ ...app.ports, manifests: config.manifests }, `Portcullis serving: Envoy ext_authz HTTP on :${app.ports.authz}, gRPC on :${app.ports.grpc}, forward-auth on :${app.ports.forwardAuth}, admin on :${app.ports.admin}`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "shutting down: draining in-flight checks");
          void app.stop().then(resolve);
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      logger.info("stopped");
      return 0;
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    stderr(`portcullis: ${(err as Error).message}`);
    process.exit(1);
  },
);
