/**
 * Standalone mode: the manifest folder is the source; statuses are logged (one line per changed
 * ancestor condition), not written anywhere.
 */
import type { Logger } from "pino";
import { ManifestFolder, type FolderLoad } from "../sources/manifests.ts";
import type { Pipeline } from "./pipeline.ts";
import type { Metrics } from "../server/metrics.ts";

export interface FolderSource {
  /** Resolves after the first load has been published. */
  readonly synced: Promise<void>;
  stop(): void;
}

/**
 * Loads `dir` now and on every change. Throws UnreadableInputError when the folder cannot be read
 * at start (fail fast: there is nothing to serve); later, an unreadable folder keeps the last snapshot.
 */
export function startFolderSource(dir: string, pipeline: Pipeline, logger: Logger, metrics: Metrics): FolderSource {
  const folder = new ManifestFolder(dir);
  const reload = (load: FolderLoad): Promise<void> => {
    metrics.servingLastGood.set({ source: "manifests" }, load.errors.length > 0 ? 1 : 0);
    for (const e of load.errors) {
      logger.error(
        { file: e.file, error: e.error, keptLastGood: e.keptLastGood },
        e.keptLastGood
          ? "manifest file is broken; its last good contents stay in force"
          : "manifest file is broken; its objects are not loaded",
      );
    }
    if (pipeline.current === undefined && load.errors.some((e) => !e.keptLastGood)) {
      // A file that never parsed may hold a policy: serving without it could open its routes.
      // Until every file parses once, checks are denied (not_ready) and readiness fails.
      logger.error({ dir }, "not ready: every check is denied until every manifest file parses");
      return Promise.resolve();
    }
    const { resources, rejected } = load;
    for (const r of rejected) logger.error({ origin: r.origin, object: r.object, reason: r.reason }, "object rejected");
    return pipeline.update(() => resources);
  };
  const synced = reload(folder.load());
  const stopWatching = folder.watch(() => {
    let load;
    try {
      load = folder.load();
    } catch (e) {
      logger.error({ dir, error: (e as Error).message }, "manifest folder cannot be read; the previous snapshot is still served");
      metrics.servingLastGood.set({ source: "manifests" }, 1);
      return;
    }
    void reload(load);
  });
  return { synced, stop: stopWatching };
}
