/** JSON logs (pino) to stdout. Credentials never reach a log call; redaction is a second line of defence. */
import pino, { type Logger } from "pino";

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "portcullis" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["headers.authorization", "headers.cookie", 'headers["x-api-key"]', "*.headers.authorization", "*.headers.cookie"],
      censor: "[redacted]",
    },
  });
}
