import { Command, InvalidArgumentError, Option } from 'commander';
import { HyperwardError, isHyperwardError } from '../errors.js';
import { SEVERITIES, type Severity } from '../model/finding.js';
import { FORMATS, type FormatName } from '../report/types.js';
import { VERSION } from '../version.js';
import type { AssessCliOpts, HostCliOpts } from './assess-cmd.js';
import { addVulnOptions, type VulnCliOpts } from './vulns.js';

import { EXIT } from './exit.js';
import { say } from './say.js';

export { EXIT };

function intArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
    return n;
  };
}

/** Builds the command tree. Each action imports only the modules it needs. */
export function buildProgram(): Command {
  const program = new Command('hyperward')
    .description(
      'Security scanner for virtualized infrastructure: VM disk images, hypervisor hosts, virtual networks',
    )
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    writeOut: (s) => process.stdout.write(s),
  });

  const scan = program
    .command('scan')
    .description('scan a target and report what it holds and what is wrong');
  const scanImage = scan
    .command('image')
    .description(
      'inventory VM disk images without booting or mounting them: OS, host name, packages, vulnerabilities',
    )
    .argument(
      '<images...>',
      'disk images (raw, qcow2, vmdk, vhd, vhdx, vdi) and appliances (ova, ovf), told by content; a directory = every image in it; pool:NAME = every volume of a libvirt storage pool',
    )
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 when a finding is at least this severe').choices(SEVERITIES),
    )
    .option('--partition <n>', 'inspect only partition N (0 = the whole disk)', intArg('--partition'))
    .option(
      '--allow-backing-outside',
      "follow backing files and extents outside the image's directory",
      false,
    )
    .option('-q, --quiet', 'no progress on stderr', false)
    .option(
      '--verify-files',
      "compare every packaged file with the package manager's digests (dpkg, RPM, apk): changed binaries and libraries are tamper evidence; reads every packaged file",
      false,
    )
    .option('--baseline <manifest>', 'report files added, removed and changed since a signed baseline')
    .option('--baseline-key <public.pem>', "the Ed25519 public key the baseline's signature is checked with")
    .option(
      '--trusted-roots <pem>',
      "CA certificates (PEM) an appliance's signing certificate must chain to (default: Node's Mozilla store)",
    )
    .option(
      '-j, --concurrency <n>',
      'images scanned at once (default: CPUs, at most 4)',
      intArg('--concurrency'),
    )
    .option(
      '--image-timeout <seconds>',
      'with several images at once, fail an image that takes longer than this (default 600)',
      intArg('--image-timeout'),
    )
    .option(
      '--cache <file>',
      'scan cache: unchanged images are not read again (default: $HYPERWARD_SCAN_CACHE, else ~/.cache/hyperward/scan-cache.db)',
    )
    .option('--no-cache', 'neither use nor fill the scan cache')
    .option('--connect <uri>', 'with pool:NAME, the libvirt connection', 'qemu:///system')
    .option(
      '--max-package-age <days>',
      'flag images with no package installed or upgraded for longer than this',
      intArg('--max-package-age'),
      30,
    )
    .option(
      '--max-av-age <days>',
      'flag antivirus (ClamAV) signatures older than this',
      intArg('--max-av-age'),
      7,
    )
    .option(
      '--eol-warning <days>',
      'flag an OS release this many days before its end of life',
      intArg('--eol-warning'),
      90,
    )
    .addOption(new Option('--stats', 'print bytes read as JSON on stderr').hideHelp());
  addVulnOptions(scanImage)
    .addHelpText(
      'after',
      `
Examples:
  $ hyperward scan image vm.qcow2
  $ hyperward scan image --format cyclonedx --output sbom.json vm.vmdk
  $ hyperward scan image --format json disk1.vhdx disk2.vdi | jq '.results[].os'
  $ hyperward scan image --fail-on high --vex vex.openvex.json vm.qcow2
  $ hyperward scan image --verify-files --baseline vm.baseline.json --baseline-key ops.pub vm.qcow2
  $ hyperward scan image -j 4 --format json -o library.json /var/lib/libvirt/images
  $ hyperward scan image --connect qemu:///system pool:default
  $ hyperward scan image --format cyclonedx -o appliance.cdx.json vendor-appliance.ova`,
    )
    .action(async (images: string[], o: ScanImageOpts) => {
      const { runScanImage } = await import('./scan-image.js');
      process.exitCode = await runScanImage(images, o);
    });

  // SBOM formats carry packages, not findings: offered where a scan yields packages (image, host), not for
  // loose configuration files.
  const assessOpts = (cmd: Command, formats: readonly string[] = FORMATS): Command =>
    cmd
      .addOption(new Option('-f, --format <format>', 'output format').choices(formats).default('table'))
      .option('-o, --output <file>', 'write the report to a file instead of stdout')
      .option(
        '--profile <name|file>',
        'built-in profile (default, stig, vmware-scg) or a YAML profile file',
        'default',
      )
      .option('--waivers <file>', 'YAML/JSON waiver file: accepted risks with owner and expiry')
      .addOption(
        new Option('--fail-on <severity>', 'exit 1 when a failing finding is at least this severe').choices(
          SEVERITIES,
        ),
      )
      .option('-q, --quiet', 'no messages on stderr', false);

  assessOpts(
    scan
      .command('config')
      .description(
        'assess VM and hypervisor configuration files: libvirt domain XML, .vmx, Proxmox qemu-server, ESXi exports',
      )
      .argument('<files...>', 'configuration files; the kind is told by content'),
    FORMATS.filter((f) => f !== 'cyclonedx' && f !== 'spdx'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ hyperward scan config /etc/libvirt/qemu/*.xml
  $ hyperward scan config --format sarif -o vm.sarif web01.vmx
  $ hyperward scan config --profile stig --fail-on high esxi-advanced.txt`,
    )
    .action(async (files: string[], o: AssessCliOpts) => {
      const { runScanConfig } = await import('./assess-cmd.js');
      process.exitCode = await runScanConfig(files, o);
    });

  addVulnOptions(
    assessOpts(
      scan
        .command('host')
        .description('assess a hypervisor host: KVM/libvirt and Proxmox VE configuration, domains, packages')
        .argument(
          '[target]',
          'none = this machine; ssh://user@host[:port]; vsphere://host; image:PATH = a host disk image; virsh:URI = a libvirt connection',
        ),
    ),
  )
    .option('--root <dir>', 'assess the host whose root filesystem is this directory')
    .option(
      '--allow-backing-outside',
      "with image:PATH, follow backing files outside the image's directory",
      false,
    )
    .option(
      '-i, --identity <file>',
      'with ssh://, the private key to authenticate with (else ssh-agent, ~/.ssh/id_*)',
    )
    .option(
      '--known-hosts <file>',
      'with ssh://, verify the host key against this file (default ~/.ssh/known_hosts)',
    )
    .option('--sudo', 'with ssh://, read files the user cannot read with `sudo -n cat` (nothing else)', false)
    .option('--user <name>', 'with vsphere://, the user (password from HYPERWARD_VSPHERE_PASSWORD)')
    .option('--thumbprint <sha256>', "with vsphere://, pin the server certificate's SHA-256 fingerprint")
    .option(
      '--ca-file <file>',
      "with vsphere://, verify the server certificate against this CA (default: Node's roots and NODE_EXTRA_CA_CERTS)",
    )
    .option('--insecure', 'with vsphere://, do not verify the server certificate at all', false)
    .addHelpText(
      'after',
      `
Examples:
  $ hyperward scan host
  $ hyperward scan host ssh://admin@kvm01.example.org --sudo
  $ HYPERWARD_VSPHERE_PASSWORD=… hyperward scan host vsphere://vc01 --user auditor@vsphere.local --ca-file ca.pem
  $ hyperward scan host --root /mnt/kvm01
  $ hyperward scan host image:/var/lib/images/pve1.qcow2 --format html -o pve1.html
  $ hyperward scan host virsh:qemu:///system`,
    )
    .action(async (target: string | undefined, o: HostCliOpts) => {
      const { runScanHost } = await import('./assess-cmd.js');
      process.exitCode = await runScanHost(target, o);
    });

  addVulnOptions(
    scan
      .command('sbom')
      .description('find vulnerabilities in the OS packages of an SBOM made by another tool (syft, Trivy...)')
      .argument('<files...>', 'CycloneDX 1.4–1.6 or SPDX 2.3 JSON documents')
      .addOption(
        new Option('-f, --format <format>', 'output format')
          .choices(FORMATS.filter((f) => f !== 'spdx'))
          .default('table'),
      )
      .option('-o, --output <file>', 'write the report to a file instead of stdout')
      .addOption(
        new Option('--fail-on <severity>', 'exit 1 when a vulnerability is at least this severe').choices(
          SEVERITIES,
        ),
      )
      .option('-q, --quiet', 'no messages on stderr', false),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ syft debian:12 -o cyclonedx-json > sbom.json && hyperward scan sbom sbom.json
  $ hyperward scan sbom --format sarif -o vulns.sarif trivy.spdx.json`,
    )
    .action(async (files: string[], o: ScanSbomOpts) => {
      const { runScanSbom } = await import('./scan-sbom.js');
      process.exitCode = await runScanSbom(files, o);
    });

  const db = program.command('db').description('the local advisory database vulnerability matching uses');
  db.command('import')
    .description(
      'load advisories: OSV JSON files, directories and zip archives (Debian, Ubuntu, Alpine, Red Hat, AlmaLinux, Rocky, SUSE), the Debian security tracker JSON, Alpine secdb JSON',
    )
    .argument('<paths...>', 'files, directories or .zip archives; the kind of each file is told by content')
    .option('--db <file>', 'database file (default: $HYPERWARD_DB, else ~/.cache/hyperward/advisories.db)')
    .addOption(
      new Option('-f, --format <format>', 'summary format').choices(['table', 'json']).default('table'),
    )
    .option('-q, --quiet', 'no progress on stderr', false)
    .addHelpText(
      'after',
      `
Examples:
  $ hyperward db import Debian-all.zip Ubuntu-all.zip
  $ hyperward db import --db ./adv.db debian-tracker.json alpine-v3.19-main.json`,
    )
    .action(async (paths: string[], o: { db?: string; quiet: boolean; format: 'table' | 'json' }) => {
      const { runDbImport } = await import('./db-cmd.js');
      process.exitCode = await runDbImport(paths, o);
    });
  db.command('info')
    .description('sources, record counts per feed and distribution, and the age of the database')
    .option('--db <file>', 'database file (default: $HYPERWARD_DB, else ~/.cache/hyperward/advisories.db)')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action(async (o: { db?: string; format: 'table' | 'json' }) => {
      const { runDbInfo } = await import('./db-cmd.js');
      process.exitCode = runDbInfo(o);
    });

  program
    .command('diff')
    .description(
      'compare two JSON reports: new, fixed and unchanged findings (exit 1 when there are new ones)',
    )
    .argument('<old>', 'the earlier report (--format json)')
    .argument('<new>', 'the later report')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .addHelpText('after', `\nExamples:\n  $ hyperward diff monday.json tuesday.json`)
    .action(async (a: string, b: string, o: { format: 'table' | 'json' }) => {
      const { runDiff } = await import('./assess-cmd.js');
      process.exitCode = runDiff(a, b, o);
    });

  program
    .command('checks')
    .description('the check catalogue')
    .command('list')
    .description('list the checks a profile selects, with references and effective parameters')
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .option('--profile <name|file>', 'built-in profile or a YAML profile file', 'default')
    .addHelpText('after', `\nExamples:\n  $ hyperward checks list --profile stig`)
    .action(async (o: { format: 'table' | 'json'; profile: string }) => {
      const { runChecksList } = await import('./assess-cmd.js');
      process.exitCode = runChecksList(o);
    });

  const image = program
    .command('image')
    .description('read files inside a disk image, like virt-ls and virt-cat');
  image
    .command('ls')
    .description('list a directory inside a disk image')
    .argument('<image>', 'disk image file, or an appliance (OVA, OVF)')
    .argument('[path]', 'directory inside the image', '/')
    .option('-l, --long', 'long listing: mode, owner, size, time', false)
    .option('-R, --recursive', 'list subdirectories too', false)
    .option(
      '--partition <n>',
      'read partition N (0 = the whole disk) instead of the OS root',
      intArg('--partition'),
    )
    .option('--allow-backing-outside', "follow backing files outside the image's directory", false)
    .option('--disk <id>', "for an appliance (OVA, OVF), the disk to read (its ovf:diskId); default the OS's")
    .addHelpText(
      'after',
      `\nExamples:\n  $ hyperward image ls vm.qcow2 /etc\n  $ hyperward image ls -lR --partition 1 vm.vmdk /boot\n  $ hyperward image ls --disk vmdisk2 appliance.ova /`,
    )
    .action(async (img: string, path: string, o: ImageOpts & { long: boolean; recursive: boolean }) => {
      const { runLs } = await import('./image-cmd.js');
      process.exitCode = runLs(img, path, o);
    });
  image
    .command('cat')
    .description('write a file from inside a disk image to stdout')
    .argument('<image>', 'disk image file, or an appliance (OVA, OVF)')
    .argument('<path>', 'file inside the image')
    .option(
      '--partition <n>',
      'read partition N (0 = the whole disk) instead of the OS root',
      intArg('--partition'),
    )
    .option('--allow-backing-outside', "follow backing files outside the image's directory", false)
    .option('--disk <id>', "for an appliance (OVA, OVF), the disk to read (its ovf:diskId); default the OS's")
    .option('-q, --quiet', 'no progress on stderr', false)
    .addHelpText(
      'after',
      `\nExamples:\n  $ hyperward image cat vm.qcow2 /etc/os-release\n  $ hyperward image cat vm.vhdx /var/log/syslog > syslog\n  $ hyperward image cat appliance.ova /etc/os-release`,
    )
    .action(async (img: string, path: string, o: ImageOpts & { quiet: boolean }) => {
      const { runCat } = await import('./image-cmd.js');
      process.exitCode = await runCat(img, path, o);
    });
  image
    .command('keygen')
    .description('make an Ed25519 key pair for signing baselines: PREFIX.key (private) and PREFIX.pub')
    .argument('<prefix>', 'path prefix of the two files (neither may exist)')
    .action(async (prefix: string) => {
      const { runKeygen } = await import('./baseline-cmd.js');
      process.exitCode = runKeygen(prefix);
    });
  image
    .command('baseline')
    .description(
      "record every file of an image's OS tree (path, type, size, mode, owner, SHA-256), signed with Ed25519",
    )
    .argument('<image>', 'disk image file')
    .requiredOption('--key <private.pem>', 'the Ed25519 private key (hyperward image keygen)')
    .requiredOption('-o, --output <manifest>', 'where to write the signed manifest')
    .option('--allow-backing-outside', "follow backing files outside the image's directory", false)
    .addHelpText(
      'after',
      `\nExamples:\n  $ hyperward image keygen ops\n  $ hyperward image baseline --key ops.key -o web01.baseline.json web01.qcow2\n  $ hyperward scan image --baseline web01.baseline.json --baseline-key ops.pub web01.qcow2`,
    )
    .action(async (img: string, o: { key: string; output: string; allowBackingOutside: boolean }) => {
      const { runBaseline } = await import('./baseline-cmd.js');
      process.exitCode = runBaseline(img, o);
    });
  return program;
}

export interface ScanSbomOpts extends VulnCliOpts {
  format: FormatName;
  output?: string;
  failOn?: Severity;
  quiet: boolean;
}

export interface ScanImageOpts extends VulnCliOpts {
  format: FormatName;
  output?: string;
  failOn?: Severity;
  partition?: number;
  allowBackingOutside: boolean;
  quiet: boolean;
  stats?: boolean;
  verifyFiles: boolean;
  baseline?: string;
  baselineKey?: string;
  trustedRoots?: string;
  concurrency?: number;
  imageTimeout?: number;
  /** A file, or false with `--no-cache`. */
  cache: string | boolean;
  connect: string;
  maxPackageAge: number;
  maxAvAge: number;
  eolWarning: number;
}

export interface ImageOpts {
  partition?: number;
  allowBackingOutside: boolean;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    const ce = e as { code?: string; exitCode?: number };
    if (typeof ce.code === 'string' && ce.code.startsWith('commander.')) {
      return ce.code === 'commander.helpDisplayed' || ce.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    if (isHyperwardError(e)) {
      say(`${e.message} [${e.code}]`);
      return e.code === 'E_INTERNAL' ? EXIT.internal : EXIT.usage;
    }
    process.stderr.write(`hyperward: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT.internal;
  }
}

export { HyperwardError };
