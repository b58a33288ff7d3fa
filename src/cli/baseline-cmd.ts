import { chmodSync, writeFileSync } from 'node:fs';
import { HyperwardError } from '../errors.js';
import {
  createBaseline,
  generateKeyPair,
  signManifest,
  verifyManifest,
  type Manifest,
} from '../inspect/baseline.js';
import { mountImage } from '../scan/image.js';
import { readTextFile } from '../source/file.js';
import { EXIT } from './exit.js';

const MAX_KEY = 64 * 1024;
const MAX_MANIFEST = 2 * 1024 * 1024 * 1024;

/** `hyperward image keygen PREFIX`: an Ed25519 key pair, `PREFIX.key` (private, mode 0600) and `PREFIX.pub`. */
export function runKeygen(prefix: string): number {
  const { publicKey, privateKey } = generateKeyPair();
  writeFileSync(`${prefix}.key`, privateKey, { mode: 0o600, flag: 'wx' });
  chmodSync(`${prefix}.key`, 0o600);
  writeFileSync(`${prefix}.pub`, publicKey, { flag: 'wx' });
  process.stderr.write(`hyperward: wrote ${prefix}.key (keep it secret) and ${prefix}.pub\n`);
  return EXIT.ok;
}

/** `hyperward image baseline IMAGE --key KEY -o MANIFEST`: every file of the OS tree, signed. */
export function runBaseline(
  img: string,
  o: { key: string; output: string; allowBackingOutside: boolean },
): number {
  const privateKey = readTextFile(o.key, MAX_KEY);
  const m = mountImage(img, { allowOutside: o.allowBackingOutside });
  try {
    if (!m.root)
      throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'no OS root found in the image', { file: img });
    const manifest = createBaseline(m.root, { image: img });
    writeFileSync(o.output, signManifest(manifest, privateKey));
    process.stderr.write(`hyperward: ${manifest.entries.length} entries recorded in ${o.output}\n`);
  } finally {
    m.close();
  }
  return EXIT.ok;
}

/** Reads a signed baseline and checks its signature with the public key; throws E_AUTH when it does not verify. */
export function loadBaseline(path: string, publicKeyPath: string): Manifest {
  return verifyManifest(readTextFile(path, MAX_MANIFEST), readTextFile(publicKeyPath, MAX_KEY));
}
