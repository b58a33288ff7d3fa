/**
 * The vSphere source against govmomi's simulator (vcsim, built from Debian's source package by scripts/vcsim.sh),
 * with govc on the same simulator as the oracle. Misconfigurations are planted the way vcsim 0.24 allows: save the
 * model with `govc object.save`, edit the saved objects, start a second simulator with `vcsim -load`.
 * A TLS proxy in front of the simulator pages, corrupts, stalls and inflates real answers for the hostile cases.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { HyperwardError, isHyperwardError } from '../errors.js';
import type { EsxiHost, EsxiService, PortGroup, SecurityPolicy, StandardSwitch } from '../model/vmware.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { findSimulator, PASS, startVcsim, stop, USER, type Sim } from '../../test/helpers/vcsim.js';
import { extraTrust, parseVsphereUrl, readVsphere } from './vsphere.js';

// ------------------------------------------------------------------------------------------------------------
// The oracle: what govc reads from the same simulator, mapped into the inventory's shape.

interface GovcSecurity {
  AllowPromiscuous: boolean | null;
  MacChanges: boolean | null;
  ForgedTransmits: boolean | null;
}
interface GovcPortGroup {
  Spec: {
    Name: string;
    VlanId: number;
    VswitchName: string;
    Policy: { Security: GovcSecurity | null } | null;
  };
}
interface GovcHost {
  Name: string;
  Config: {
    Product: { Version: string; Build: string };
    LockdownMode: string;
    AdminDisabled: boolean | null;
    Option: { Key: string; Value: unknown }[] | null;
    Network: {
      Vswitch: { Name: string; Spec: { Policy: { Security: GovcSecurity | null } | null } }[] | null;
      Portgroup: GovcPortGroup[] | null;
    };
  };
}

function govcSecurity(s: GovcSecurity | null | undefined): SecurityPolicy {
  const p: SecurityPolicy = {};
  if (s?.AllowPromiscuous != null) p.allowPromiscuous = s.AllowPromiscuous;
  if (s?.MacChanges != null) p.macChanges = s.MacChanges;
  if (s?.ForgedTransmits != null) p.forgedTransmits = s.ForgedTransmits;
  return p;
}

function govcPortGroup(pg: GovcPortGroup): PortGroup {
  return { name: pg.Spec.Name, vlanId: pg.Spec.VlanId, policy: govcSecurity(pg.Spec.Policy?.Security) };
}

function govcTry(govc: string, args: string[], env: NodeJS.ProcessEnv): string | undefined {
  const r = spawnSync(govc, args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return r.status === 0 ? r.stdout : undefined;
}

function oracle(govc: string, sim: Sim): { hosts: EsxiHost[]; portGroupsByHost: Map<string, PortGroup[]> } {
  const paths = run(govc, ['find', '/', '-type', 'h'], { env: sim.govcEnv }).split('\n').filter(Boolean);
  assert.ok(paths.length > 0, 'govc finds no host');
  const info = JSON.parse(run(govc, ['host.info', '-json', ...paths], { env: sim.govcEnv })) as {
    HostSystems: GovcHost[];
  };
  const hosts: EsxiHost[] = [];
  const portGroupsByHost = new Map<string, PortGroup[]>();
  for (const h of info.HostSystems) {
    const path = paths.find((p) => p.endsWith(`/${h.Name}`));
    assert.ok(path !== undefined, `no inventory path for ${h.Name}`);
    const c = h.Config;
    const host: EsxiHost = { name: h.Name, source: sim.endpoint, advanced: {} };
    host.version = c.Product.Version;
    host.build = c.Product.Build;
    const options = [...(c.Option ?? [])];
    // The host's advanced-option manager: govc fails when the simulator has none for this host.
    const ls = govcTry(govc, ['host.option.ls', '-json', '-host', path], sim.govcEnv);
    if (ls !== undefined)
      options.push(...((JSON.parse(ls) as { Key: string; Value: unknown }[] | null) ?? []));
    for (const o of options) {
      host.advanced[o.Key.toLowerCase()] = {
        key: o.Key,
        value: String(o.Value),
        file: sim.endpoint,
        line: 0,
      };
    }
    const svc = govcTry(govc, ['host.service.ls', '-json', '-host', path], sim.govcEnv);
    if (svc !== undefined) {
      host.services = (
        JSON.parse(svc) as { Key: string; Label: string; Running: boolean; Policy: string }[]
      ).map((s): EsxiService => ({ key: s.Key, label: s.Label, running: s.Running, policy: s.Policy }));
    }
    if (c.LockdownMode !== '') host.lockdownMode = c.LockdownMode;
    else if (c.AdminDisabled !== null)
      host.lockdownMode = c.AdminDisabled ? 'lockdownNormal' : 'lockdownDisabled';
    host.standardSwitches = (c.Network.Vswitch ?? []).map((v): StandardSwitch => ({
      name: v.Name,
      policy: govcSecurity(v.Spec.Policy?.Security),
      portGroups: (c.Network.Portgroup ?? []).filter((p) => p.Spec.VswitchName === v.Name).map(govcPortGroup),
    }));
    hosts.push(host);
    // The same port groups as the host's network system reports them (a second govc view of the same data).
    const pgs = JSON.parse(
      run(govc, ['host.portgroup.info', '-json', '-host', path], { env: sim.govcEnv }),
    ) as {
      Portgroup: GovcPortGroup[] | null;
    };
    portGroupsByHost.set(h.Name, (pgs.Portgroup ?? []).map(govcPortGroup));
  }
  hosts.sort((a, b) => (a.name < b.name ? -1 : 1));
  return { hosts, portGroupsByHost };
}

function assertMatchesOracle(got: EsxiHost[], want: ReturnType<typeof oracle>): void {
  assert.deepStrictEqual(
    got.map((h) => h.name),
    want.hosts.map((h) => h.name),
  );
  for (const [i, h] of got.entries()) {
    assert.deepStrictEqual(h, want.hosts[i], `host ${h.name} differs from govc`);
    const pgs = (h.standardSwitches ?? []).flatMap((s) => s.portGroups);
    assert.deepStrictEqual(pgs, want.portGroupsByHost.get(h.name), `port groups of ${h.name} differ`);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Planting misconfigurations into a saved model

function mustReplace(
  s: string,
  from: string | RegExp,
  to: string | ((m: string) => string),
  what: string,
): string {
  const out = typeof to === 'string' ? s.replace(from, to) : s.replace(from, to);
  assert.notEqual(out, s, `planting ${what}: pattern not found in the saved vcsim model`);
  return out;
}

const optionXml = (tag: string, key: string, type: string, value: string): string =>
  `<${tag} XMLSchema-instance:type="OptionValue"><key>${key}</key>` +
  `<value XMLSchema-instance:type="${type}">${value}</value></${tag}>`;

const savedObject = (type: string, id: string, prop: string, valType: string, inner: string): string =>
  `<ObjectContent>\n  <obj type="${type}">${id}</obj>\n  <propSet>\n    <name>${prop}</name>\n` +
  `    <val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" ` +
  `XMLSchema-instance:type="${valType}">${inner}</val>\n  </propSet>\n</ObjectContent>\n`;

const PLANTED_SERVICES: EsxiService[] = [
  { key: 'TSM-SSH', label: 'SSH', running: true, policy: 'on' },
  { key: 'TSM', label: 'ESXi Shell', running: false, policy: 'off' },
];

/** Copies a saved model and plants misconfigurations on DC0_H0 and DC0_C0_H1. */
function plant(model: string, out: string): void {
  cpSync(model, out, { recursive: true });
  const files = readdirSync(out);
  const hostFile = (name: string): string => {
    for (const f of files.filter((x) => x.includes('-HostSystem-'))) {
      const xml = readFileSync(join(out, f), 'utf8');
      if (new RegExp(`<name>name</name>\\s*<val[^>]*>${name}</val>`).test(xml)) return join(out, f);
    }
    throw new Error(`no saved HostSystem named ${name}`);
  };
  const vmNetwork = /<portgroup>\s*<key>key-vim\.host\.PortGroup-VM Network<\/key>[\s\S]*?<\/portgroup>/;
  const overridePortGroup = (xml: string): string =>
    mustReplace(
      xml,
      vmNetwork,
      (block) =>
        mustReplace(
          mustReplace(block, '<vlanId>0</vlanId>', '<vlanId>42</vlanId>', 'VLAN'),
          '<security></security>',
          '<security><allowPromiscuous>true</allowPromiscuous><forgedTransmits>false</forgedTransmits></security>',
          'port group security',
        ),
      'VM Network port group',
    );
  const vswitch = /<vswitch>[\s\S]*?<\/vswitch>/;

  // DC0_H0: lockdown strict, advanced options in config.option and in its own option manager, an open vswitch, a
  // port group override, and a service system the stock simulator lacks.
  const h0Path = hostFile('DC0_H0');
  let h0 = readFileSync(h0Path, 'utf8');
  h0 = mustReplace(
    h0,
    '<lockdownMode>lockdownDisabled</lockdownMode>',
    '<lockdownMode>lockdownStrict</lockdownMode>' +
      optionXml('option', 'UserVars.ESXiShellInteractiveTimeOut', 'xsd:long', '0') +
      optionXml('option', 'Security.AccountLockFailures', 'xsd:int', '10'),
    'lockdown mode and config.option',
  );
  h0 = mustReplace(
    h0,
    vswitch,
    (b) =>
      mustReplace(
        b,
        '<allowPromiscuous>false</allowPromiscuous>',
        '<allowPromiscuous>true</allowPromiscuous>',
        'p',
      ),
    'vswitch promiscuous',
  );
  h0 = overridePortGroup(h0);
  h0 = mustReplace(
    h0,
    '<serviceSystem type="HostServiceSystem">serviceSystem</serviceSystem>',
    '<serviceSystem type="HostServiceSystem">serviceSystem-planted</serviceSystem>',
    'service system reference',
  );
  const optionManager = /<advancedOption type="OptionManager">([^<]+)<\/advancedOption>/.exec(h0)?.[1];
  const networkSystem = /<networkSystem type="HostNetworkSystem">([^<]+)<\/networkSystem>/.exec(h0)?.[1];
  assert.ok(
    optionManager !== undefined && networkSystem !== undefined,
    'DC0_H0 has no option manager or network',
  );
  writeFileSync(h0Path, h0);
  const services = PLANTED_SERVICES.map(
    (s) =>
      `<service><key>${s.key}</key><label>${s.label}</label><required>false</required>` +
      `<uninstallable>false</uninstallable><running>${s.running}</running><policy>${s.policy}</policy></service>`,
  ).join('');
  writeFileSync(
    join(out, '9000-HostServiceSystem-serviceSystem-planted.xml'),
    savedObject('HostServiceSystem', 'serviceSystem-planted', 'serviceInfo', 'HostServiceInfo', services),
  );
  writeFileSync(
    join(out, `9001-OptionManager-${optionManager}.xml`),
    savedObject(
      'OptionManager',
      optionManager,
      'setting',
      'ArrayOfOptionValue',
      optionXml('OptionValue', 'Config.HostAgent.log.level', 'xsd:string', 'info') +
        optionXml('OptionValue', 'Net.BlockGuestBPDU', 'xsd:int', '0') +
        optionXml('OptionValue', 'Security.AccountLockFailures', 'xsd:int', '7'),
    ),
  );
  const netFile = files.find((f) => f.endsWith(`-HostNetworkSystem-${networkSystem}.xml`));
  assert.ok(netFile !== undefined, `no saved HostNetworkSystem ${networkSystem}`);
  writeFileSync(join(out, netFile), overridePortGroup(readFileSync(join(out, netFile), 'utf8')));

  // DC0_C0_H1: only the pre-6.0 adminDisabled flag, and a hardened vswitch.
  const h1Path = hostFile('DC0_C0_H1');
  let h1 = readFileSync(h1Path, 'utf8');
  h1 = mustReplace(
    h1,
    '<lockdownMode>lockdownDisabled</lockdownMode>',
    '<adminDisabled>true</adminDisabled>',
    'h1',
  );
  h1 = mustReplace(
    h1,
    vswitch,
    (b) =>
      mustReplace(
        mustReplace(b, '<macChanges>true</macChanges>', '<macChanges>false</macChanges>', 'mac'),
        '<forgedTransmits>true</forgedTransmits>',
        '<forgedTransmits>false</forgedTransmits>',
        'forged',
      ),
    'vswitch hardening',
  );
  writeFileSync(h1Path, h1);
}

// ------------------------------------------------------------------------------------------------------------
// A TLS proxy in front of vcsim that can page, corrupt, stall or inflate the answers.

type Mode =
  | { kind: 'pass' }
  | { kind: 'page' }
  | { kind: 'endless' }
  | { kind: 'doctype' }
  | { kind: 'deep' }
  | { kind: 'declared-huge' }
  | { kind: 'streamed-huge' }
  | { kind: 'stall' }
  | { kind: 'mutate'; method: string; fn: (xml: string) => string };

interface Proxy {
  server: Server;
  endpoint: string;
  mode: Mode;
  methods: string[];
}

const envelope = (method: string, inner: string): string =>
  '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ' +
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>' +
  `<${method}Response xmlns="urn:vim25">${inner}</${method}Response></soapenv:Body></soapenv:Envelope>`;

function startProxy(upstreamPort: number, key: Buffer, cert: Buffer): Promise<Proxy> {
  const pages = new Map<string, string[]>();
  let tokens = 0;
  const forward = (
    body: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; setCookie: string[]; body: string }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: upstreamPort, path: '/sdk', method: 'POST', ca: cert, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              setCookie: res.headers['set-cookie'] ?? [],
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const proxy: Proxy = {
    server: undefined as unknown as Server,
    endpoint: '',
    mode: { kind: 'pass' },
    methods: [],
  };
  proxy.server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const method = /<(\w+) xmlns="urn:vim25">/.exec(body)?.[1] ?? '';
        proxy.methods.push(method);
        const mode = proxy.mode;
        const reply = (status: number, xml: string, setCookie: string[] = []): void => {
          res.writeHead(status, { 'content-type': 'text/xml; charset=utf-8', 'set-cookie': setCookie });
          res.end(xml);
        };
        const token = /<token>([^<]*)<\/token>/.exec(body)?.[1];
        if (method === 'ContinueRetrievePropertiesEx' && (mode.kind === 'page' || mode.kind === 'endless')) {
          const rest = pages.get(token ?? '') ?? [];
          const next =
            mode.kind === 'endless' ? `t${++tokens}` : rest.length > 1 ? `t${++tokens}` : undefined;
          if (next !== undefined && mode.kind === 'page') pages.set(next, rest.slice(1));
          reply(
            200,
            envelope(
              method,
              `<returnval>${next ? `<token>${next}</token>` : ''}${rest[0] ?? ''}</returnval>`,
            ),
          );
          return;
        }
        if (method === 'CancelRetrievePropertiesEx' && (mode.kind === 'page' || mode.kind === 'endless')) {
          reply(200, envelope(method, ''));
          return;
        }
        if (method === 'RetrievePropertiesEx' && mode.kind === 'stall') return; // never answers
        if (method === 'RetrievePropertiesEx' && mode.kind === 'declared-huge') {
          res.writeHead(200, { 'content-type': 'text/xml', 'content-length': String(2 ** 40) });
          res.write('<');
          return;
        }
        if (method === 'RetrievePropertiesEx' && mode.kind === 'streamed-huge') {
          res.writeHead(200, { 'content-type': 'text/xml' });
          const mib = Buffer.alloc(1 << 20, 0x20);
          for (let i = 0; i < 80 && !res.destroyed && !res.writableEnded; i++) {
            if (res.write(mib)) continue;
            await new Promise<void>((resolve) => {
              const done = (): void => {
                res.off('drain', done).off('close', done);
                resolve();
              };
              res.on('drain', done).on('close', done);
            });
          }
          res.end();
          return;
        }
        const headers: Record<string, string> = {
          'content-type': req.headers['content-type'] ?? 'text/xml',
          soapaction: String(req.headers['soapaction'] ?? ''),
        };
        if (req.headers.cookie !== undefined) headers['cookie'] = req.headers.cookie;
        const up = await forward(body, headers);
        let xml = up.body;
        if (method === 'RetrievePropertiesEx') {
          if (mode.kind === 'page') {
            const objs = xml.match(/<objects>[\s\S]*?<\/objects>/g) ?? [];
            if (objs.length > 1) {
              const t = `t${++tokens}`;
              pages.set(t, objs.slice(1));
              xml = envelope(method, `<returnval><token>${t}</token>${objs[0]}</returnval>`);
            }
          } else if (mode.kind === 'endless') {
            xml = envelope(method, `<returnval><token>t${++tokens}</token></returnval>`);
          } else if (mode.kind === 'doctype') {
            xml = xml
              .replace('?>', '?><!DOCTYPE e [<!ENTITY x "expanded">]>')
              .replace('<name>name</name>', '<name>&x;</name>');
          } else if (mode.kind === 'deep') {
            xml = xml.replace('<returnval>', `<returnval>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}`);
          }
        }
        if (mode.kind === 'mutate' && method === mode.method) xml = mode.fn(xml);
        reply(up.status, xml, up.setCookie);
      })().catch(() => res.destroy());
    });
  });
  return new Promise((resolve) => {
    proxy.server.listen(0, '127.0.0.1', () => {
      proxy.endpoint = `vsphere://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
      resolve(proxy);
    });
  });
}

async function expectHyperwardError(p: Promise<unknown>, code: string, re: RegExp): Promise<HyperwardError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isHyperwardError(e), `expected a HyperwardError, got ${(e as Error)?.stack ?? String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return e;
  }
  assert.fail(`expected ${code} matching ${re}, but it succeeded`);
}

// ------------------------------------------------------------------------------------------------------------

describe('readVsphere against vcsim', () => {
  let bins: { vcsim: string; govc: string };
  let tmp: { dir: string; cleanup: () => void } | undefined;
  let stock: Sim | undefined;
  let planted: Sim | undefined;
  let proxy: Proxy | undefined;
  let caFile = '';
  let keyFile = '';
  let thumbprint = '';

  before(async () => {
    bins = findSimulator();
    tmp = tempDir('hyperward-vcsim-');
    const key = join(tmp.dir, 'key.pem');
    keyFile = key;
    caFile = join(tmp.dir, 'cert.pem');
    const req = 'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1';
    run('openssl', [
      ...req.split(' '),
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      caFile,
    ]);
    thumbprint = run('openssl', ['x509', '-in', caFile, '-noout', '-fingerprint', '-sha256'])
      .split('=')[1]!
      .trim();
    const tlsArgs = ['-tlscert', caFile, '-tlskey', key];
    stock = await startVcsim(bins.vcsim, tlsArgs, tmp.dir, caFile);
    const model = join(tmp.dir, 'model');
    run(bins.govc, ['object.save', '-d', model], { env: stock.govcEnv });
    plant(model, join(tmp.dir, 'planted'));
    planted = await startVcsim(bins.vcsim, [...tlsArgs, '-load', join(tmp.dir, 'planted')], tmp.dir, caFile);
    proxy = await startProxy(stock.port, readFileSync(key), readFileSync(caFile));
  });

  after(async () => {
    await Promise.all([stop(stock), stop(planted)]);
    if (proxy !== undefined) await new Promise((r) => proxy!.server.close(r));
    tmp?.cleanup();
  });

  it('reads every host of the stock simulator as govc does (thumbprint pinned)', async () => {
    const got = await readVsphere(stock!.endpoint, { user: USER, password: PASS, thumbprint });
    assertMatchesOracle(got, oracle(bins.govc, stock!));
    assert.equal(got.length, 4);
    for (const h of got) {
      // vcsim 0.24 has no HostServiceSystem: services are unknown, not an empty list.
      assert.equal(h.services, undefined);
      assert.equal(h.advanced['config.hostagent.log.level']?.value, 'info');
    }
  });

  it('reads a standalone ESXi host (vcsim -esx) as govc does', async () => {
    const esx = await startVcsim(
      bins.vcsim,
      ['-esx', '-tlscert', caFile, '-tlskey', keyFile],
      tmp!.dir,
      caFile,
    );
    try {
      const got = await readVsphere(esx.endpoint, { user: USER, password: PASS, thumbprint });
      assert.equal(got.length, 1);
      assertMatchesOracle(got, oracle(bins.govc, esx));
    } finally {
      await stop(esx);
    }
  });

  it('reports the misconfigurations planted in a saved model (vcsim -load), as govc does', async () => {
    const got = await readVsphere(planted!.endpoint, { user: USER, password: PASS, caFile });
    assertMatchesOracle(got, oracle(bins.govc, planted!));
    const h0 = got.find((h) => h.name === 'DC0_H0')!;
    assert.equal(h0.lockdownMode, 'lockdownStrict');
    assert.deepStrictEqual(h0.advanced['uservars.esxishellinteractivetimeout'], {
      key: 'UserVars.ESXiShellInteractiveTimeOut',
      value: '0',
      file: planted!.endpoint,
      line: 0,
    });
    // The option manager's live value wins over config.option's.
    assert.equal(h0.advanced['security.accountlockfailures']?.value, '7');
    assert.equal(h0.advanced['net.blockguestbpdu']?.value, '0');
    assert.deepStrictEqual(h0.services, PLANTED_SERVICES);
    const sw0 = h0.standardSwitches?.find((s) => s.name === 'vSwitch0');
    assert.deepStrictEqual(sw0?.policy, { allowPromiscuous: true, macChanges: true, forgedTransmits: true });
    assert.deepStrictEqual(
      sw0?.portGroups.find((p) => p.name === 'VM Network'),
      { name: 'VM Network', vlanId: 42, policy: { allowPromiscuous: true, forgedTransmits: false } },
    );
    assert.deepStrictEqual(sw0?.portGroups.find((p) => p.name === 'Management Network')?.policy, {});
    const h1 = got.find((h) => h.name === 'DC0_C0_H1')!;
    assert.equal(h1.lockdownMode, 'lockdownNormal');
    assert.deepStrictEqual(h1.standardSwitches?.[0]?.policy, {
      allowPromiscuous: false,
      macChanges: false,
      forgedTransmits: false,
    });
    assert.equal(h1.services, undefined);
  });

  it('verifies TLS: CA file and pin accepted; untrusted, wrong pin and SHA-1 pin refused; insecure only if asked', async () => {
    const creds = { user: USER, password: PASS };
    await expectHyperwardError(readVsphere(stock!.endpoint, creds), 'E_IO', /not trusted.*thumbprint/);
    const wrong = thumbprint.replace(/^../, thumbprint.startsWith('00') ? '11' : '00');
    await expectHyperwardError(
      readVsphere(stock!.endpoint, { ...creds, thumbprint: wrong }),
      'E_IO',
      /mismatch/,
    );
    await expectHyperwardError(
      readVsphere(stock!.endpoint, { ...creds, thumbprint: 'AB:'.repeat(19) + 'AB' }),
      'E_USAGE',
      /SHA-1/,
    );
    const viaCa = await readVsphere(stock!.endpoint, { ...creds, caFile });
    const viaPin = await readVsphere(`https://127.0.0.1:${stock!.port}/sdk`, {
      ...creds,
      thumbprint: thumbprint.replace(/:/g, '').toLowerCase(),
    });
    const insecure = await readVsphere(stock!.endpoint, { ...creds, insecure: true });
    assert.deepStrictEqual(viaPin, viaCa);
    assert.deepStrictEqual(insecure, viaCa);
    await expectHyperwardError(
      readVsphere(stock!.endpoint, { ...creds, caFile: join(tmp!.dir, 'missing.pem') }),
      'E_NOT_FOUND',
      /CA file/,
    );
  });

  it('trusts an extra CA file beside the bundled roots only where no CA file, pin or insecure was given', async () => {
    const creds = { user: USER, password: PASS };
    const viaCa = await readVsphere(stock!.endpoint, { ...creds, caFile });
    assert.deepStrictEqual(await readVsphere(stock!.endpoint, { ...creds, extraCaFile: caFile }), viaCa);
    // Where a pin or a CA file is given it decides alone, as Node lets an explicit `ca` replace NODE_EXTRA_CA_CERTS:
    // an unrelated extra CA neither breaks a right pin nor rescues a CA file that does not verify the server.
    const other = join(tmp!.dir, 'other-ca.pem');
    run('openssl', [
      ...'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other'.split(' '),
      '-keyout',
      join(tmp!.dir, 'other-key.pem'),
      '-out',
      other,
    ]);
    assert.deepStrictEqual(
      await readVsphere(stock!.endpoint, { ...creds, extraCaFile: other, thumbprint }),
      viaCa,
    );
    await expectHyperwardError(
      readVsphere(stock!.endpoint, { ...creds, caFile: other, extraCaFile: caFile }),
      'E_IO',
      /not trusted/,
    );
    // The extra file adds to Node's bundled roots; it does not replace them.
    const trust = extraTrust(caFile);
    assert.equal(trust.problem, undefined);
    assert.deepStrictEqual(trust.certificates.slice(0, -1), [...rootCertificates]);
    assert.equal(trust.certificates.at(-1), readFileSync(caFile, 'utf8'));
    // A file without a certificate adds nothing and says so (Node would warn).
    const empty = join(tmp!.dir, 'no-cert.pem');
    writeFileSync(empty, 'not a certificate\n');
    assert.match(extraTrust(empty).problem ?? '', /no-cert\.pem holds no PEM certificate/);
    const none = await expectHyperwardError(
      readVsphere(stock!.endpoint, { ...creds, extraCaFile: empty }),
      'E_IO',
      /not trusted/,
    );
    assert.match(none.message, /holds no PEM certificate/);
    // An unreadable file is left out, as Node leaves out an unreadable NODE_EXTRA_CA_CERTS, and the refusal says so.
    const missing = join(tmp!.dir, 'missing-extra.pem');
    const e = await expectHyperwardError(
      readVsphere(stock!.endpoint, { ...creds, extraCaFile: missing }),
      'E_IO',
      /not trusted/,
    );
    assert.ok(
      e.message.includes(`extra CA certificates could not be read: ${missing}: no such file`),
      e.message,
    );
    // Neither file is read unless it is a regular file (a device named by mistake never blocks or fills memory).
    const dev = await expectHyperwardError(
      readVsphere(stock!.endpoint, { ...creds, extraCaFile: '/dev/zero' }),
      'E_IO',
      /not trusted/,
    );
    assert.match(dev.message, /could not be read: \/dev\/zero: not a regular file\)$/);
    await expectHyperwardError(
      readVsphere(stock!.endpoint, { ...creds, caFile: '/dev/zero' }),
      'E_USAGE',
      /CA file: not a regular file/,
    );
  });

  it('a wrong password is a HyperwardError naming the vSphere fault', async () => {
    await expectHyperwardError(
      readVsphere(stock!.endpoint, { user: USER, password: 'wrong', thumbprint }),
      'E_IO',
      /InvalidLogin/,
    );
  });

  it('parses endpoints and refuses credentials in the URL and plain http', () => {
    assert.deepStrictEqual(parseVsphereUrl('vsphere://vc.example.org'), {
      host: 'vc.example.org',
      port: 443,
      path: '/sdk',
      display: 'vsphere://vc.example.org',
    });
    assert.deepStrictEqual(parseVsphereUrl('https://[::1]:8443/sdk'), {
      host: '::1',
      port: 8443,
      path: '/sdk',
      display: 'vsphere://[::1]:8443',
    });
    assert.throws(() => parseVsphereUrl('vsphere://root:pw@esx1'), /credentials/);
    assert.throws(() => parseVsphereUrl('http://esx1/sdk'), /vsphere:\/\/host or https/);
    assert.throws(
      () => parseVsphereUrl('not a url'),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE',
    );
  });

  describe('hostile or unusual servers (a proxy over the simulator)', () => {
    const read = (timeoutMs?: number): Promise<EsxiHost[]> =>
      readVsphere(proxy!.endpoint, {
        user: USER,
        password: PASS,
        caFile,
        ...(timeoutMs ? { timeoutMs } : {}),
      });
    const setMode = (m: Mode): void => {
      proxy!.mode = m;
      proxy!.methods = [];
    };

    it('follows ContinueRetrievePropertiesEx pages to the same result', async () => {
      setMode({ kind: 'pass' });
      const direct = await read();
      setMode({ kind: 'page' });
      const paged = await read();
      assert.ok(proxy!.methods.filter((m) => m === 'ContinueRetrievePropertiesEx').length >= 3, 'no paging');
      assert.deepStrictEqual(
        paged.map((h) => ({ ...h, source: '' })),
        direct.map((h) => ({ ...h, source: '' })),
      );
    });

    it('stops an endless series of pages with E_LIMIT, cancels it and still logs out', async () => {
      setMode({ kind: 'endless' });
      await expectHyperwardError(read(), 'E_LIMIT', /pages/);
      assert.ok(proxy!.methods.includes('CancelRetrievePropertiesEx'));
      assert.equal(proxy!.methods.at(-1), 'Logout');
    });

    // A stall that is not timed out meets the test's timeout.
    it(
      'refuses DOCTYPE/ENTITY, deep nesting, oversized answers and stalls',
      { timeout: 60_000 },
      async () => {
        setMode({ kind: 'doctype' });
        await expectHyperwardError(read(), 'E_IO', /DOCTYPE/);
        assert.equal(proxy!.methods.at(-1), 'Logout');
        setMode({ kind: 'deep' });
        await expectHyperwardError(read(), 'E_IO', /not well-formed|nest/i);
        setMode({ kind: 'declared-huge' });
        await expectHyperwardError(read(), 'E_LIMIT', /bytes/);
        setMode({ kind: 'streamed-huge' });
        await expectHyperwardError(read(), 'E_LIMIT', /exceeds/);
        setMode({ kind: 'stall' });
        await expectHyperwardError(read(400), 'E_IO', /timed out/);
        assert.equal(proxy!.methods.at(-1), 'Logout');
      },
    );

    it('mutated real answers give hosts or a HyperwardError, nothing else', async () => {
      // Mutations of the simulator's own answers: byte edits, truncation, values replaced.
      const method = fc.constantFrom(
        'RetrieveServiceContent',
        'Login',
        'CreateContainerView',
        'RetrievePropertiesEx',
      );
      const byteEdit = fc.tuple(fc.nat(), fc.nat({ max: 255 }));
      const value = fc.string({ maxLength: 40, unit: 'binary' });
      const edit = fc.oneof(
        fc.record({
          t: fc.constant('bytes' as const),
          edits: fc.array(byteEdit, { minLength: 1, maxLength: 8 }),
        }),
        fc.record({ t: fc.constant('truncate' as const), at: fc.nat() }),
        fc.record({ t: fc.constant('value' as const), nth: fc.nat({ max: 400 }), s: value }),
      );
      await fc.assert(
        fc.asyncProperty(method, edit, async (target, m) => {
          setMode({
            kind: 'mutate',
            method: target,
            fn: (xml) => {
              if (m.t === 'truncate') return xml.slice(0, m.at % (xml.length + 1));
              if (m.t === 'bytes') {
                const b = Buffer.from(xml);
                for (const [off, v] of m.edits) b[off % b.length] = v;
                return b.toString('latin1');
              }
              let i = 0;
              return xml.replace(/>([^<]+)</g, (all) => (i++ === m.nth ? `>${m.s}<` : all));
            },
          });
          try {
            await read(5000);
          } catch (e) {
            if (!isHyperwardError(e))
              assert.fail(`expected a HyperwardError, got ${(e as Error)?.stack ?? String(e)}`);
          }
        }),
        { numRuns: 150 },
      );
    });
  });
});
