/**
 * Standalone mode: the manifest folder is the source; statuses are logged (one line per changed
 * ancestor condition), not written anywhere.
 */
import type { Logger } from "pino";
import type { ClientAddressOptions } from "../authz/client-address.ts";
import { clientIPDetectionLines } from "../sources/client-traffic-policies.ts";
import { ManifestFolder, type FolderRead } from "../sources/manifests.ts";
import type { Pipeline } from "./pipeline.ts";
import type { Metrics } from "../server/metrics.ts";

export interface FolderSource {
  /** Resolves after the first read has been published, or found unusable (not ready until a read is). */
  readonly synced: Promise<void>;
  stop(): void;
}

/**
 * Reads `dir` now and on every change, and publishes what is in force (sources/manifests.ts):
 * while a file does not parse or holds an invalid object, nothing changes, and before every file has parsed once, nothing is
 * published (every check is denied, not_ready); a read the folder changed during is skipped (the
 * change brings another). Each broken file is logged with its line, and
 * `portcullis_serving_last_good_config{source="manifests"}` is 1 meanwhile. A ClientTrafficPolicy
 * whose clientIPDetection is not what `clientAddress` (the flags) says is refused the same way: rules
 * on client addresses would decide on another address than Envoy's. Throws
 * UnreadableInputError when the folder cannot be read at start (fail fast: there is nothing to
 * serve); later, an unreadable folder keeps the last snapshot.
 */
export function startFolderSource(
  dir: string,
  pipeline: Pipeline,
  logger: Logger,
  metrics: Metrics,
  clientAddress: ClientAddressOptions,
): FolderSource {
  const folder = new ManifestFolder(dir);
  let usable = true;
  const publish = ({ latest, inForce, changedWhileRead }: FolderRead): Promise<void> => {
    if (changedWhileRead) {
      logger.info({ dir }, "manifest folder changed while being read; reading it again");
      return Promise.resolve();
    }
    const contradicted = clientIPDetectionLines(latest.objects, clientAddress);
    const broken = latest.errors.length > 0 || contradicted.length > 0;
    metrics.servingLastGood.set({ source: "manifests" }, broken ? 1 : 0);
    for (const e of latest.errors) {
      logger.error(
        { file: e.file, error: e.error },
        inForce === undefined
          ? "manifest file is broken"
          : "manifest file is broken; the folder's last good contents stay in force, changes to other files included",
      );
    }
    for (const line of contradicted)
      logger.error(
        { problem: line },
        pipeline.current === undefined
          ? "ClientTrafficPolicy contradicts the client address flags; not ready: every check is denied until they agree"
          : "ClientTrafficPolicy contradicts the client address flags; the last snapshot stays in force until they agree",
      );
    // What a file that never parsed holds is unknown: any route may be its policy's.
    if (inForce === undefined)
      logger.error(
        { dir },
        "not ready: every check is denied until every manifest file parses and holds no invalid or unknown object (the errors above say which)",
      );
    if (!usable && !broken) logger.info({ dir }, "every manifest file parses again; the folder's contents are enforced");
    usable = !broken;
    if (broken) return Promise.resolve();
    for (const r of latest.rejected) logger.warn({ origin: r.origin, object: r.object, reason: r.reason }, "duplicate object read once");
    for (const line of latest.unread) logger.warn({ problem: line }, "field not read, as Envoy Gateway's file provider");
    return pipeline.update(() => latest.resources);
  };
  // Watching starts before the first read, so that a change made meanwhile is not missed.
  const stopWatching = folder.watch(() => {
    let read: FolderRead;
    try {
      read = folder.read();
    } catch (e) {
      logger.error({ dir, error: (e as Error).message }, "manifest folder cannot be read; the previous snapshot is still served");
      metrics.servingLastGood.set({ source: "manifests" }, 1);
      return;
    }
    void publish(read);
  });
  let first: FolderRead;
  try {
    first = folder.read();
  } catch (e) {
    stopWatching();
    throw e;
  }
  return { synced: publish(first), stop: stopWatching };
}
