/**
 * Entry point: configuration, then one command. Wiring only.
 * Exit codes: 0 success (check: allow), 1 check denied or compile found problems, 2 bad usage or
 * an unreadable manifest folder or kubeconfig (serve included: it fails fast rather than serve nothing).
 */
import { runCheck } from "./commands/check.ts";
import { completionScript } from "./commands/completion.ts";
import { runCompile } from "./commands/compile.ts";
import { commandHelp, fullHelp, usageHint, version } from "./commands/help.ts";
import { loadConfig, UsageError, type Config, type ServeConfig } from "./config.ts";
import { startApp } from "./runtime/app.ts";
import { createLogger } from "./runtime/logger.ts";
import { UnreadableInputError } from "./sources/unreadable.ts";

const stdout = (text: string) => void process.stdout.write(text);
const stderr = (line: string) => void process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    stderr(`portcullis: ${e.message}`);
    stderr(usageHint(e.command));
    return 2;
  }
  try {
    return await run(config);
  } catch (e) {
    if (!(e instanceof UnreadableInputError)) throw e;
    stderr(`portcullis: ${e.message}`);
    return 2;
  }
}

async function run(config: Config): Promise<number> {
  switch (config.command) {
    case "version":
      stdout(`portcullis ${version()}\n`);
      return 0;
    case "help":
      stdout(config.topic === undefined ? fullHelp() : commandHelp(config.topic));
      return 0;
    case "completion":
      stdout(completionScript(config.shell));
      return 0;
    case "check":
      return runCheck(config, stdout, stderr);
    case "compile":
      return runCompile(config, stdout, stderr, new Date());
    case "serve":
      return serve(config);
  }
}

async function serve(config: ServeConfig): Promise<number> {
  const logger = createLogger(config.logLevel);
  const app = await startApp(config, logger);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal, delaySeconds: config.shutdownDelaySeconds }, "shutting down: draining in-flight checks");
      void app.stop().then(resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  logger.info("stopped");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    stderr(`portcullis: ${(err as Error).message}`);
    process.exit(1);
  },
);
