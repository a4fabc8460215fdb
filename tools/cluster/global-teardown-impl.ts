export default async function globalTeardown(): Promise<void> {
  const cluster = globalThis.__KR_CLUSTER__;
  if (cluster) await cluster.stop();
  globalThis.__KR_CLUSTER__ = undefined;
}
