/**
 * Assessment reports for the report writer tests, produced by the real engine (`assess`) and the real waiver
 * logic (`applyWaivers`) over a small inventory, so the findings have the ids, references and evidence the
 * writers meet in real runs; plus a hostile variant whose strings try to break every output format.
 */
import { assess } from '../../src/checks/engine.js';
import { BUILTIN_PROFILES } from '../../src/checks/profile.js';
import { defineCheck, type Check } from '../../src/checks/types.js';
import { applyWaivers } from '../../src/checks/waivers.js';
import type { Finding } from '../../src/model/finding.js';
import { emptyInventory, type HostInventory } from '../../src/model/host.js';
import type { ScanReport } from '../../src/model/report.js';

/** Two VMware VM checks in the shape of the real catalogue: a VMX key, its default, and the guide's value. */
function vmxCheck(
  id: string,
  key: string,
  defaultValue: string,
  good: (v: string) => boolean,
  severity: 'high' | 'medium' | 'low',
): Check {
  return defineCheck(
    {
      id,
      title: `VM setting ${key} is hardened`,
      severity,
      platform: 'vmware',
      resourceType: 'vm',
      rationale: `The ${key} setting controls a channel between the VM console and the guest.`,
      remediation: `Set ${key} in the VM's .vmx file as the guide says.`,
      references: {
        nist800125a: ['HY-SR-3'],
        stig: ['ESXI-80-000008'],
        vmwareScg: id,
        urls: ['https://core.vmware.com/security-configuration-guide'],
      },
    },
    (inv) =>
      inv.vmx.map((vm) => {
        const e = vm.entries[key.toLowerCase()];
        const value = e?.value ?? defaultValue;
        const evidence = e
          ? { file: e.file, key: e.key, value: e.value, line: e.line }
          : { file: vm.file, key, value: defaultValue, isDefault: true };
        if (value === '?') {
          return {
            status: 'unknown' as const,
            resource: { type: 'vm', id: vm.name ?? vm.file },
            message: `${key} has an unreadable value`,
            evidence,
          };
        }
        return {
          status: good(value) ? ('pass' as const) : ('fail' as const),
          resource: { type: 'vm', id: vm.name ?? vm.file },
          message: `${key} is ${value}${e ? '' : ' (default)'}`,
          evidence,
        };
      }),
  );
}

const CHECKS: Check[] = [
  vmxCheck(
    'vm-8.limit-console-connections',
    'RemoteDisplay.maxConnections',
    '-1',
    (v) => v === '1',
    'medium',
  ),
  vmxCheck(
    'vm-8.deactivate-console-copy',
    'isolation.tools.copy.disable',
    'TRUE',
    (v) => v.toUpperCase() === 'TRUE',
    'low',
  ),
  vmxCheck(
    'vm-8.vmrc-lock',
    'tools.guest.desktop.autolock',
    'FALSE',
    (v) => v.toUpperCase() === 'TRUE',
    'high',
  ),
];

function entry(file: string, key: string, value: string, line: number) {
  return { [key.toLowerCase()]: { key, value, file, line } };
}

function inventory(
  name: string,
  vms: Array<{
    file: string;
    name: string;
    entries: Record<string, { key: string; value: string; file: string; line: number }>;
  }>,
  unreadable: HostInventory['unreadable'] = [],
): HostInventory {
  const inv = emptyInventory(name, 'files');
  inv.vmx = vms;
  inv.unreadable = unreadable;
  return inv;
}

export interface BuildOptions {
  /** Strings to put into messages, file names, resource ids and waiver text. */
  hostile?: string;
  /**
   * The same estate one change later: web01's console connections limited to 1 (fixing a failure and retiring
   * the expired waiver that covered it) and db01's console autolock turned off (a new failure).
   */
  later?: boolean;
}

/**
 * A report with an ESXi-host-like target (fail, pass, unknown, a waived and an expired-waiver finding, an
 * unreadable file), a config-file target, an image target with packages and no findings, and an unreadable image.
 */
export function assessmentReport(opts: BuildOptions = {}): ScanReport {
  const h = opts.hostile ?? '';
  const web = `vms/web 01${h}/web01.vmx`;
  const db = `/vmfs/volumes/ds1/db01/db01${h}.vmx`;
  const host = inventory(
    `esxi01.example.org${h}`,
    [
      {
        file: web,
        name: `web01${h}`,
        entries: {
          ...entry(web, 'RemoteDisplay.maxConnections', opts.later ? '1' : '2', 14),
          ...entry(web, 'tools.guest.desktop.autolock', '?', 15),
        },
      },
      {
        file: db,
        name: 'db01',
        entries: {
          ...entry(db, 'RemoteDisplay.maxConnections', '1', 3),
          ...entry(db, 'isolation.tools.copy.disable', 'FALSE', 7),
          ...entry(db, 'tools.guest.desktop.autolock', opts.later ? 'FALSE' : 'TRUE', 8),
        },
      },
    ],
    [
      {
        file: `/etc/vmware/hostd/config${h}.xml`,
        code: 'E_LIMIT',
        message: `document nesting deeper than 64${h}`,
      },
    ],
  );
  let hostFindings = assess(host, CHECKS, BUILTIN_PROFILES.default!);
  hostFindings = applyWaivers(
    hostFindings,
    [
      {
        check: 'vm-8.deactivate-console-copy',
        resource: 'db01',
        justification: `Operators paste runbooks into this console${h}`,
        owner: `ops@example.org${h}`,
        expires: '2999-12-31',
      },
      {
        check: 'vm-8.limit-console-connections',
        resource: `web01*`,
        justification: 'Two consoles during the migration',
        owner: 'migration-team',
        expires: '2020-01-31',
      },
    ],
    new Date('2026-11-26T00:00:00Z'),
  );
  const config = inventory('config', [
    { file: 'app.vmx', name: 'app', entries: entry('app.vmx', 'RemoteDisplay.maxConnections', '1', 2) },
  ]);
  const configFindings = assess(config, CHECKS, BUILTIN_PROFILES.default!);
  return {
    tool: { name: 'hyperward', version: '0.1.0' },
    createdAt: '2026-11-26T12:00:00.000Z',
    results: [
      { target: `ssh://root@esxi01.example.org${h}`, kind: 'host', packages: [], findings: hostFindings },
      { target: `app.vmx`, kind: 'config', packages: [], findings: configFindings },
      {
        target: `images/vm${h}.qcow2`,
        kind: 'image',
        image: {
          format: 'qcow2',
          subformat: 'v3',
          virtualSize: 1 << 30,
          files: [`images/vm${h}.qcow2`],
          partitionScheme: 'gpt',
          partitions: [],
          filesystems: [{ partition: 1, type: 'ext4', mountpoint: '/', root: true }],
        },
        os: {
          id: 'debian',
          idLike: [],
          versionId: '12',
          prettyName: `Debian GNU/Linux 12 (bookworm)${h}`,
          family: 'debian',
          source: '/etc/os-release',
        },
        hostname: `vm1${h}`,
        packages: [
          {
            ecosystem: 'deb',
            name: `libssl3${h}`,
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
        findings: [],
      },
      {
        target: `broken${h}.vmdk`,
        kind: 'image',
        error: { code: 'E_IMAGE_CORRUPT', message: `grain directory out of range${h}` },
        packages: [],
        findings: [],
      },
    ],
  };
}

/** Strings that break naive HTML, XML, JSON, URI and CSV writers. */
export const HOSTILE = `<script>alert("x")</script>&amp;"'\`]]><!--\u0000\u0007\u001b[31m\ud800\u2028\r\n#?:%zz é😀`;

/** Every finding of a report, flattened. */
export function allFindings(report: ScanReport): Finding[] {
  return report.results.flatMap((r) => r.findings);
}
