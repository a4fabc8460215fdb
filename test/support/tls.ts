/**
 * Test certificates made with the openssl CLI (dev tooling only): a CA, and server
 * certificates it signs for 127.0.0.1/localhost, each with a distinct common name so a test can
 * tell which one a server presents.
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

export interface TestCa {
  cert: string;
  certFile: string;
  keyFile: string;
}

export interface TestCert {
  cert: string;
  key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function makeCa(dir: string, cn = 'kr-test-ca'): Promise<TestCa> {
  const certFile = join(dir, `${cn}.crt`);
  const keyFile = join(dir, `${cn}.key`);
  await execa('openssl', [
    'req',
    '-x509',
    ...EC,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
  ]);
  return { cert: readFileSync(certFile, 'utf8'), certFile, keyFile };
}

/** A server certificate for 127.0.0.1 and localhost, signed by `ca`, with CN `cn`. */
export async function makeServerCert(dir: string, ca: TestCa, cn: string): Promise<TestCert> {
  const key = join(dir, `${cn}.key`);
  const csr = join(dir, `${cn}.csr`);
  const crt = join(dir, `${cn}.crt`);
  const ext = join(dir, `${cn}.ext`);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await execa('openssl', ['req', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  await execa('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-CAcreateserial',
    '-out',
    crt,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { cert: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') };
}

let generation = 0;

/**
 * Writes `files` into `dir` as the kubelet updates a Secret volume: a new hidden directory,
 * the `..data` symlink swapped to it by a rename (atomic), and each name a symlink through
 * `..data` (made once). The previous directory is removed, as the kubelet does.
 */
export function writeSecretVolume(dir: string, files: Record<string, string>): void {
  const stamp = `..${Date.now()}_${process.pid}_${++generation}`;
  mkdirSync(join(dir, stamp));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, stamp, name), text);
  let previous: string | undefined;
  try {
    previous = readlinkSync(join(dir, '..data'));
  } catch {
    /* first write */
  }
  symlinkSync(stamp, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) {
    if (!existsSync(join(dir, name))) symlinkSync(join('..data', name), join(dir, name));
  }
  if (previous) rmSync(join(dir, previous), { recursive: true, force: true });
}
