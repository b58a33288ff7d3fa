/**
 * Virtual appliances made with real tools, for tests: certificates from the openssl command line, OVF descriptors
 * written here, manifests from `sha256sum`/`sha1sum`/`sha512sum` output rewritten in the OVF `.mf` form, signatures
 * from `openssl dgst -sign`, and archives from GNU tar (descriptor first, as OVF requires).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './tmp.js';

export interface KeyPair {
  key: string;
  cert: string;
}

/** A small PKI with the openssl command line: self-signed certificates and ones issued by a CA, any validity. */
export class Pki {
  private serial = 1;
  constructor(private readonly dir: string) {}

  private key(name: string): string {
    const key = join(this.dir, `${name}.key`);
    run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key]);
    return key;
  }

  /** A self-signed certificate valid for ten years from now; a CA when `ca`. */
  selfSigned(name: string, ca = false): KeyPair {
    const key = this.key(name);
    const cert = join(this.dir, `${name}.pem`);
    const ext = ca ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign'] : [];
    run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      key,
      '-out',
      cert,
      '-subj',
      `/CN=${name}`,
      '-days',
      '3650',
      ...ext,
    ]);
    return { key, cert };
  }

  /** A certificate issued by `by`, valid from `start` to `end` (`YYYYMMDDHHMMSSZ`), with `openssl ca`. */
  issue(name: string, by: KeyPair, start: string, end: string): KeyPair {
    const key = this.key(name);
    const csr = join(this.dir, `${name}.csr`);
    const cert = join(this.dir, `${name}.pem`);
    run('openssl', ['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${name}`]);
    const db = join(this.dir, `db-${name}`);
    mkdirSync(db);
    writeFileSync(join(db, 'index.txt'), '');
    writeFileSync(join(db, 'serial'), `0${this.serial++}\n`);
    writeFileSync(
      join(db, 'ca.cnf'),
      `[ca]\ndefault_ca = d\n[d]\ndatabase = ${db}/index.txt\nnew_certs_dir = ${db}\nserial = ${db}/serial\n` +
        `default_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n`,
    );
    run('openssl', [
      'ca',
      '-batch',
      '-config',
      join(db, 'ca.cnf'),
      '-cert',
      by.cert,
      '-keyfile',
      by.key,
      '-in',
      csr,
      '-out',
      cert,
      '-startdate',
      start,
      '-enddate',
      end,
      '-notext',
    ]);
    return { key, cert };
  }
}

export interface OvfDiskSpec {
  /** `ovf:diskId`. */
  id: string;
  /** The image file's name in the package. */
  href: string;
  /** Its size in bytes (`ovf:size`). */
  size: number;
  /** Virtual capacity in bytes. */
  capacity: number;
}

export interface OvfSpec {
  systemId: string;
  systemName: string;
  product?: string;
  vendor?: string;
  version?: string;
  fullVersion?: string;
  productUrl?: string;
  vendorUrl?: string;
  /** VMware guest id (`vmw:osType`). */
  osType: string;
  cpus: number;
  memoryMiB: number;
  /** One adapter per network, in order. */
  networks: string[];
  disks: OvfDiskSpec[];
}

const xml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** An OVF 1.0 descriptor for one virtual system, as ovftool lays them out. */
export function ovfDescriptor(spec: OvfSpec): string {
  const rasd = (inner: string): string => `      <Item>\n${inner}      </Item>\n`;
  const field = (name: string, value: string | number): string =>
    `        <rasd:${name}>${xml(String(value))}</rasd:${name}>\n`;
  let instance = 1;
  const items: string[] = [
    rasd(
      field('AllocationUnits', 'hertz * 10^6') +
        field('ElementName', `${spec.cpus} virtual CPU(s)`) +
        field('InstanceID', instance++) +
        field('ResourceType', 3) +
        field('VirtualQuantity', spec.cpus),
    ),
    rasd(
      field('AllocationUnits', 'byte * 2^20') +
        field('ElementName', `${spec.memoryMiB}MB of memory`) +
        field('InstanceID', instance++) +
        field('ResourceType', 4) +
        field('VirtualQuantity', spec.memoryMiB),
    ),
  ];
  const controller = instance++;
  items.push(
    rasd(
      field('Address', 0) +
        field('ElementName', 'SCSI Controller 0') +
        field('InstanceID', controller) +
        field('ResourceSubType', 'VirtualSCSI') +
        field('ResourceType', 6),
    ),
  );
  spec.disks.forEach((d, i) => {
    items.push(
      rasd(
        field('AddressOnParent', i) +
          field('ElementName', `Hard Disk ${i + 1}`) +
          field('HostResource', `ovf:/disk/${d.id}`) +
          field('InstanceID', instance++) +
          field('Parent', controller) +
          field('ResourceType', 17),
      ),
    );
  });
  spec.networks.forEach((n, i) => {
    items.push(
      rasd(
        field('AddressOnParent', 7 + i) +
          field('AutomaticAllocation', 'true') +
          field('Connection', n) +
          field('ElementName', `Network adapter ${i + 1}`) +
          field('InstanceID', instance++) +
          field('ResourceSubType', 'VmxNet3') +
          field('ResourceType', 10),
      ),
    );
  });
  const product = (tag: string, v: string | undefined): string =>
    v === undefined ? '' : `      <${tag}>${xml(v)}</${tag}>\n`;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<!-- written by the Hyperward test suite -->\n` +
    `<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"` +
    ` xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"` +
    ` xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"` +
    ` xmlns:vmw="http://www.vmware.com/schema/ovf">\n` +
    `  <References>\n` +
    spec.disks
      .map((d) => `    <File ovf:href="${xml(d.href)}" ovf:id="file-${xml(d.id)}" ovf:size="${d.size}"/>\n`)
      .join('') +
    `  </References>\n` +
    `  <DiskSection>\n    <Info>Virtual disk information</Info>\n` +
    spec.disks
      .map(
        (d) =>
          `    <Disk ovf:capacity="${d.capacity}" ovf:capacityAllocationUnits="byte" ovf:diskId="${xml(d.id)}"` +
          ` ovf:fileRef="file-${xml(d.id)}"` +
          ` ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>\n`,
      )
      .join('') +
    `  </DiskSection>\n` +
    `  <NetworkSection>\n    <Info>The list of logical networks</Info>\n` +
    spec.networks
      .map(
        (n) =>
          `    <Network ovf:name="${xml(n)}">\n      <Description>${xml(n)}</Description>\n    </Network>\n`,
      )
      .join('') +
    `  </NetworkSection>\n` +
    `  <VirtualSystem ovf:id="${xml(spec.systemId)}">\n` +
    `    <Info>A virtual machine</Info>\n` +
    `    <Name>${xml(spec.systemName)}</Name>\n` +
    (spec.product === undefined
      ? ''
      : `    <ProductSection>\n      <Info>Information about the installed software</Info>\n` +
        product('Product', spec.product) +
        product('Vendor', spec.vendor) +
        product('Version', spec.version) +
        product('FullVersion', spec.fullVersion) +
        product('ProductUrl', spec.productUrl) +
        product('VendorUrl', spec.vendorUrl) +
        `    </ProductSection>\n`) +
    `    <OperatingSystemSection ovf:id="96" vmw:osType="${xml(spec.osType)}">\n` +
    `      <Info>The kind of installed guest operating system</Info>\n` +
    `    </OperatingSystemSection>\n` +
    `    <VirtualHardwareSection>\n      <Info>Virtual hardware requirements</Info>\n` +
    `      <System>\n        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n` +
    `        <vssd:InstanceID>0</vssd:InstanceID>\n` +
    `        <vssd:VirtualSystemIdentifier>${xml(spec.systemName)}</vssd:VirtualSystemIdentifier>\n` +
    `        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>\n      </System>\n` +
    items.join('') +
    `    </VirtualHardwareSection>\n` +
    `  </VirtualSystem>\n` +
    `</Envelope>\n`
  );
}

export interface PackOptions {
  /** Manifest digest (default sha256); `none` for no manifest. */
  digest?: 'sha1' | 'sha256' | 'sha512' | 'none';
  /** Sign the manifest with this key and ship these certificates (signer first). */
  sign?: { key: string; certs: string[] };
  /** Runs after the manifest and signature are written and before the archive is made (to tamper with a file). */
  beforeTar?: (dir: string) => void;
  /** tar format (default ustar). */
  format?: 'ustar' | 'gnu' | 'pax';
}

/**
 * Writes the manifest of `files` (the descriptor first) in `dir` with the coreutils digest tool, signs it when
 * asked, and packs `NAME.ova` beside `dir`: descriptor, manifest, certificate, then the other files. Returns the
 * archive's path.
 */
export function packOva(dir: string, name: string, files: string[], o: PackOptions = {}): string {
  const members = [files[0]!];
  const digest = o.digest ?? 'sha256';
  const base = files[0]!.replace(/\.ovf$/, '');
  if (digest !== 'none') {
    // `sha256sum` prints `HEX  NAME`; OVF wants `SHA256(NAME)= HEX`.
    const out = run(`${digest}sum`, files, { cwd: dir });
    const mf = out
      .trim()
      .split('\n')
      .map((line) => {
        const m = /^([0-9a-f]+) [ *](.+)$/.exec(line);
        if (m === null) throw new Error(`unexpected ${digest}sum line: ${line}`);
        return `${digest.toUpperCase()}(${m[2]})= ${m[1]}\n`;
      })
      .join('');
    writeFileSync(join(dir, `${base}.mf`), mf);
    members.push(`${base}.mf`);
    if (o.sign !== undefined) {
      const sig = join(dir, 'signature.bin');
      run('openssl', ['dgst', '-sha256', '-sign', o.sign.key, '-out', sig, `${base}.mf`], { cwd: dir });
      const hex = readFileSync(sig).toString('hex');
      rmSync(sig);
      const certs = o.sign.certs.map((c) => readFileSync(c, 'utf8')).join('');
      writeFileSync(join(dir, `${base}.cert`), `SHA256(${base}.mf)= ${hex}\n${certs}`);
      members.push(`${base}.cert`);
    }
  }
  members.push(...files.slice(1));
  o.beforeTar?.(dir);
  const ova = join(dir, '..', `${name}.ova`);
  run('tar', [`--format=${o.format ?? 'ustar'}`, '-cf', ova, '-C', dir, ...members]);
  return ova;
}

/** `qemu-img convert -f raw -O vmdk -o subformat=streamOptimized RAW OUT`: a disk as appliances ship it. */
export function streamOptimizedVmdk(raw: string, out: string): string {
  run('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, out]);
  return out;
}
