import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadCatalogue } from '../checks/catalogue.js';
import { loadProfile, selectChecks } from '../checks/profile.js';
import { loadWaivers } from '../checks/waivers.js';
import { HyperwardError, isHyperwardError } from '../errors.js';
import type { ScanResult } from '../model/report.js';
import { diffReports, parseReport, renderDiff } from '../report/diff.js';
import { columns } from '../report/table.js';
import { assessHost, inventoryFromRoot, scanConfigFiles, type AssessOptions } from '../scan/assess.js';
import { mountImage } from '../scan/image.js';
import { DirRoot } from '../source/dir.js';
import { readVirsh } from '../source/virsh.js';
import { emptyInventory } from '../model/host.js';
import { EXIT } from './exit.js';
import { emit, newReport, type OutputOpts } from './output.js';
import { addVulnsToReport, type VulnCliOpts } from './vulns.js';

export interface AssessCliOpts extends OutputOpts {
  profile: string;
  waivers?: string;
}

export interface HostCliOpts extends AssessCliOpts, VulnCliOpts {
  root?: string;
  allowBackingOutside: boolean;
  identity?: string;
  knownHosts?: string;
  sudo: boolean;
  user?: string;
  thumbprint?: string;
  caFile?: string;
  insecure: boolean;
}

function assessOptions(o: AssessCliOpts): AssessOptions {
  return {
    profile: loadProfile(o.profile),
    waivers: o.waivers ? loadWaivers(o.waivers) : [],
    catalogue: loadCatalogue(),
  };
}

function rationaleOf(opts: AssessOptions): (id: string) => string | undefined {
  const byId = new Map((opts.catalogue ?? []).map((c) => [c.meta.id, c.meta.rationale]));
  return (id) => byId.get(id);
}

/** `hyperward scan config FILE…` */
export async function runScanConfig(files: string[], o: AssessCliOpts): Promise<number> {
  const opts = assessOptions(o);
  return emit(newReport(scanConfigFiles(files, opts)), o, { rationale: rationaleOf(opts) });
}

/**
 * `hyperward scan host [TARGET]`: no target = this machine; `--root DIR` = a directory tree; `image:PATH` = a
 * hypervisor's own disk image; `virsh:URI` = the domains of a libvirt connection.
 */
export async function runScanHost(target: string | undefined, o: HostCliOpts): Promise<number> {
  const opts = assessOptions(o);
  const shown = target ?? (o.root ? `root:${resolve(o.root)}` : 'localhost');
  let result: ScanResult;
  try {
    if (target !== undefined && o.root !== undefined) {
      throw new HyperwardError(
        'E_USAGE',
        `--root assesses a directory tree; it cannot be combined with the target ${target}`,
      );
    }
    if (target?.startsWith('image:')) {
      const path = target.slice('image:'.length);
      const m = mountImage(path, { allowOutside: o.allowBackingOutside });
      try {
        if (!m.root)
          throw new HyperwardError('E_UNSUPPORTED_FORMAT', 'no OS root found in the image', { file: path });
        result = assessHost(shown, inventoryFromRoot(m.root, target, path), opts);
      } finally {
        m.close();
      }
    } else if (target?.startsWith('ssh://')) {
      const { inventoryOverSsh } = await import('../scan/ssh-host.js');
      const sshOpts: Parameters<typeof inventoryOverSsh>[1] = { sudo: o.sudo };
      if (o.identity) sshOpts.identityFile = o.identity;
      if (o.knownHosts) sshOpts.knownHostsFile = o.knownHosts;
      result = assessHost(shown, await inventoryOverSsh(target, sshOpts), opts);
    } else if (target?.startsWith('vsphere://')) {
      const { readVsphere } = await import('../source/vsphere.js');
      const password = process.env.HYPERWARD_VSPHERE_PASSWORD;
      if (!o.user || password === undefined) {
        throw new HyperwardError(
          'E_USAGE',
          'vsphere:// needs --user and the password in HYPERWARD_VSPHERE_PASSWORD',
        );
      }
      const vOpts: Parameters<typeof readVsphere>[1] = { user: o.user, password, insecure: o.insecure };
      if (o.thumbprint) vOpts.thumbprint = o.thumbprint;
      if (o.caFile) vOpts.caFile = o.caFile;
      // NODE_EXTRA_CA_CERTS as the launcher (bin/hyperward) hands it on.
      const extraCa = process.env.HYPERWARD_EXTRA_CA_CERTS;
      if (extraCa) vOpts.extraCaFile = extraCa;
      const inv = emptyInventory(target, target);
      inv.esxi.push(...(await readVsphere(target, vOpts)));
      result = assessHost(shown, inv, opts);
    } else if (target?.startsWith('virsh:')) {
      const uri = target.slice('virsh:'.length);
      checkLibvirtUri(uri);
      const v = await readVirsh({ uri });
      const inv = emptyInventory(uri, target);
      inv.libvirtDomains.push(...v.domains);
      inv.libvirtNetworks.push(...v.networks);
      inv.libvirtNwFilters.push(...(v.nwfilters ?? []));
      inv.unreadable.push(...v.unreadable);
      result = assessHost(shown, inv, opts);
    } else if (target === undefined) {
      const root = new DirRoot(o.root ?? '/');
      result = assessHost(
        shown,
        inventoryFromRoot(
          root,
          o.root ? `root:${resolve(o.root)}` : 'local',
          o.root ? resolve(o.root) : hostname(),
        ),
        opts,
      );
    } else {
      throw new HyperwardError(
        'E_USAGE',
        `unsupported target ${JSON.stringify(target)}: give no target (this machine), --root DIR, ssh://user@host[:port], vsphere://host, image:PATH or virsh:URI`,
      );
    }
  } catch (e) {
    if (!isHyperwardError(e)) throw e;
    result = {
      target: shown,
      kind: 'host',
      error: { code: e.code, message: e.message },
      packages: [],
      findings: [],
    };
  }
  const report = newReport([result]);
  await addVulnsToReport(report, o);
  return emit(report, o, { rationale: rationaleOf(opts) });
}

/**
 * A libvirt URI for a read-only connection. Transports that run a program of the URI's choosing (`+ext`,
 * `command=`, `netcat=`, `proxy=`) are refused: a scan target must never make the scanner execute something.
 */
export function checkLibvirtUri(uri: string): void {
  const m = /^([a-z][a-z0-9]*)(?:\+([a-z0-9]+))?:\/\//i.exec(uri);
  const transport = m?.[2]?.toLowerCase();
  const query = uri.includes('?') ? uri.slice(uri.indexOf('?') + 1).toLowerCase() : '';
  if (
    !m ||
    transport === 'ext' ||
    /(^|&)(command|netcat|proxy|socket|keyfile)=/.test(query) ||
    uri.length > 1024 ||
    /[\s\0]/.test(uri)
  ) {
    throw new HyperwardError(
      'E_USAGE',
      `refusing libvirt URI ${JSON.stringify(uri)}: give a plain URI such as qemu:///system, qemu+ssh://host/system or test:///path (no +ext transport, no command=, netcat=, proxy=, socket= or keyfile= parameters)`,
    );
  }
}

/** `hyperward diff OLD.json NEW.json`: exit 1 when there are new findings, or findings no longer assessed. */
export function runDiff(oldPath: string, newPath: string, o: { format: 'table' | 'json' }): number {
  const load = (p: string) => {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(p, 'utf8'));
    } catch (e) {
      throw new HyperwardError('E_USAGE', `not a JSON report: ${(e as Error).message}`, { file: p });
    }
    return parseReport(json, p);
  };
  const diff = diffReports(load(oldPath), load(newPath));
  process.stdout.write(renderDiff(diff, o.format));
  return diff.new.length > 0 || diff.notAssessed.length > 0 ? EXIT.findings : EXIT.ok;
}

/** `hyperward checks list`: the checks a profile selects, with their effective parameters. */
export function runChecksList(o: { format: 'table' | 'json'; profile: string }): number {
  const selected = selectChecks(loadCatalogue(), loadProfile(o.profile));
  if (o.format === 'json') {
    process.stdout.write(
      JSON.stringify(
        selected.map((s) => ({ ...s.check.meta, effectiveParameters: s.params })),
        null,
        2,
      ) + '\n',
    );
    return EXIT.ok;
  }
  const rows = selected.map(({ check: { meta }, params }) => [
    meta.id,
    meta.severity.toUpperCase(),
    meta.platform,
    [...(meta.references.stig ?? []), ...(meta.references.nist800125a ?? [])].join(' '),
    Object.entries(params)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' '),
    meta.title,
  ]);
  process.stdout.write(
    columns([['ID', 'SEVERITY', 'PLATFORM', 'REFERENCES', 'PARAMETERS', 'TITLE'], ...rows]) + '\n',
  );
  return EXIT.ok;
}
