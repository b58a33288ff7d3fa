/**
 * A report on one virtual appliance for the writer tests: what `scan image` gives for a signed OVA with two disks,
 * the OS and packages read from the first. With `hostile`, every string the descriptor supplies carries it.
 */
import type { ScanReport } from '../../model/report.js';

export function applianceReport(o: { hostile?: string } = {}): ScanReport {
  const h = o.hostile ?? '';
  const target = `/srv/appliances/gateway${h}.ova`;
  return {
    tool: { name: 'hyperward', version: '0.1.0' },
    createdAt: '2026-11-26T12:00:00.000Z',
    results: [
      {
        target,
        kind: 'image',
        packages: [
          {
            ecosystem: 'deb',
            name: 'libssl3',
            version: '3.0.15-1~deb12u1',
            arch: 'amd64',
            sourceName: 'openssl',
            sourceVersion: '3.0.15-1~deb12u1',
            source: '/var/lib/dpkg/status',
          },
          {
            ecosystem: 'deb',
            name: 'tzdata',
            version: '2024a-0+deb12u1',
            arch: 'all',
            sourceName: 'tzdata',
            sourceVersion: '2024a-0+deb12u1',
            source: '/var/lib/dpkg/status',
          },
        ],
        findings: [
          {
            id: 'f1',
            checkId: 'appliance.cert-self-signed',
            severity: 'low',
            status: 'fail',
            title: 'Appliance signed with a self-signed certificate',
            message: `the signing certificate CN=Example${h} is self-signed: anyone can make one`,
            resource: { type: 'appliance', id: target },
            platform: 'image',
            evidence: { file: 'gateway.cert', key: `CN=Example${h}` },
          },
        ],
        image: {
          format: 'vmdk',
          subformat: 'streamOptimized',
          virtualSize: 402653184,
          files: [`${target}!disk1.vmdk`],
          partitionScheme: 'gpt',
          partitions: [],
          filesystems: [{ partition: 1, type: 'ext4', mountpoint: '/', root: true }],
        },
        appliance: {
          kind: 'ova',
          descriptor: `gateway${h}.ovf`,
          ovfVersion: '1.x',
          product: `Example Gateway${h}`,
          vendor: `Example Networks, Inc.${h}`,
          version: `7.2.4${h}`,
          fullVersion: `7.2.4 build 1234${h}`,
          productUrl: h === '' ? 'https://example.com/gateway' : `javascript:alert(1)${h}`,
          vendorUrl: h === '' ? 'https://example.com/' : `https://exa mple.com/${h}`,
          systems: [
            {
              id: 'gw',
              name: `gateway${h}`,
              osType: 'debian12_64Guest',
              osId: 96,
              cpus: 2,
              memoryBytes: 2 * 1024 ** 3,
              nics: [{ name: 'Network adapter 1', network: `VM Network${h}`, adapterType: 'VmxNet3' }],
              disks: [
                { diskId: 'disk1', capacityBytes: 402653184 },
                { diskId: 'data', capacityBytes: 16777216 },
              ],
            },
          ],
          networks: [{ name: `VM Network${h}`, description: 'the VM network' }],
          disks: [
            {
              diskId: 'disk1',
              file: 'disk1.vmdk',
              capacityBytes: 402653184,
              root: true,
            },
            {
              diskId: 'data',
              file: `data${h}.vmdk`,
              capacityBytes: 16777216,
              error: { code: 'E_IMAGE_CORRUPT', message: `bad grain${h}` },
            },
          ],
          manifest: {
            status: 'verified',
            name: 'gateway.mf',
            algorithms: ['SHA256'],
            weak: false,
            entries: 3,
            failed: [],
            uncovered: [],
          },
          signature: {
            status: 'valid',
            name: 'gateway.cert',
            algorithm: 'SHA256',
            chain: [
              {
                subject: `CN=Example${h}`,
                issuer: `CN=Example${h}`,
                serialNumber: '01',
                validFrom: '2024-01-01T00:00:00.000Z',
                validTo: '2034-01-01T00:00:00.000Z',
                fingerprint256: 'AA:BB',
                selfSigned: true,
              },
            ],
            trusted: false,
            expired: false,
          },
          cpes:
            h === ''
              ? [
                  {
                    cpe: 'cpe:2.3:a:example_networks:example_gateway:7.2.4:*:*:*:*:*:*:*',
                    confidence: 'high',
                    basis: 'vendor and product; Version',
                  },
                  {
                    cpe: 'cpe:2.3:a:example:gateway:7.2.4:*:*:*:*:*:*:*',
                    confidence: 'medium',
                    basis: "the vendor's first word; Version",
                  },
                ]
              : [
                  // What cpe.ts makes of hostile text: escaped, so still a well-formed name; and one that is not.
                  {
                    cpe: 'cpe:2.3:a:example_networks:example_gateway\\<script\\>:7.2.4:*:*:*:*:*:*:*',
                    confidence: 'high',
                    basis: `vendor and product${h}`,
                  },
                  { cpe: `not a cpe${h}`, confidence: 'low', basis: h },
                ],
        },
        os: {
          id: 'debian',
          idLike: [],
          versionId: '12',
          prettyName: 'Debian GNU/Linux 12 (bookworm)',
          family: 'debian',
          source: '/etc/os-release',
        },
        hostname: 'gateway',
      },
    ],
  };
}
