/**
 * @module dev/start
 * `npm start`: the service for development. Without OPENSEARCH_URL it provisions and starts an
 * embedded OpenSearch node (Maven Central, cached outside the work tree) and, without
 * AUDIT_JWT_SECRET or AUDIT_JWKS_URL, generates a dev secret into `.data/dev-jwt-secret` that
 * `npm run token` signs with; then it runs the service itself (src/main), and stops the node when
 * the service stops. The runtime never imports this file, and the image does not contain it.
 */

import { createLogger } from "../src/logger.ts";
import { runService } from "../src/main.ts";
import { devSecret, devSigningKey, loadDevConfigOrExit } from "./config.ts";
import { type LocalCluster, startLocalCluster } from "./local-cluster.ts";
import { mintToken } from "./token.ts";

const dev = loadDevConfigOrExit();
const env: NodeJS.ProcessEnv = { ...process.env };
const log = createLogger(env.LOG_LEVEL || "info");

let cluster: LocalCluster | undefined;
if (dev.mode === "local") {
  log.info("no OPENSEARCH_URL: starting the embedded OpenSearch node");
  try {
    cluster = await startLocalCluster({ ...dev.localNode, nodes: 1, log: (m) => log.info(m) });
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(1);
  }
  env.OPENSEARCH_URL = cluster.url;
  if (cluster.home.missing.length > 0)
    log.warn(
      { missing: cluster.home.missing.map((m) => m.artifact) },
      "Index State Management is not available on the embedded node (its plugin is not served by the Maven registry)",
    );
}
const secret = dev.devSecretFile ? devSecret(dev.devSecretFile) : undefined;
if (secret) env.AUDIT_JWT_SECRET = secret;
if (dev.devSigningKeyFile) env.INTEGRITY_SIGNING_KEY_FILE = devSigningKey(dev.devSigningKeyFile);

await runService(env, {
  ...(secret
    ? {
        // The console's sign-in page offers dev tokens signed with the same secret.
        devToken: (claims: { sub: string; tenant: string; scope: string }) => mintToken(secret, claims),
        notice: `local mode: tokens are signed with the dev secret in ${dev.devSecretFile}; mint one with: npm run token -- --tenant acme --scope "audit:read audit:write"`,
      }
    : {}),
  afterStop: async (serviceLog) => {
    if (!cluster) return;
    serviceLog.info("stopping the embedded OpenSearch node");
    await cluster.stop();
  },
});
