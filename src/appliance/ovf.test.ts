import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expectError } from '../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run } from '../../test/helpers/tmp.js';
import { allocationUnitsMultiplier, parseHostResource, parseOvf, type OvfEnvelope } from './ovf.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'ovf');
const REAL = ['jeos-centos6-VM_OVF10.ovf', 'bitnami-tomcatstack-8.0.36-x86_64.ovf', 'complete_vsc.ovf'];

/**
 * Python's ElementTree (an independent, namespace-aware XML reader) extracts the same facts from the descriptor:
 * the oracle for what the envelope reader returns.
 */
const PY_FACTS = `
import json, sys, xml.etree.ElementTree as ET
OVF = ('http://schemas.dmtf.org/ovf/envelope/1', 'http://schemas.dmtf.org/ovf/envelope/2')
VMW = 'http://www.vmware.com/schema/ovf'
def local(tag): return tag.split('}')[-1]
def ns(tag): return tag[1:].split('}')[0] if tag.startswith('{') else ''
def is_ovf(el, name): return local(el.tag) == name and ns(el.tag) in OVF + ('',)
def attr(el, name):
    for k, v in el.attrib.items():
        if k.startswith('{') and local(k) == name and ns(k) in OVF: return v
    return el.attrib.get(name)
def text(el):
    if el is None or el.text is None: return None
    t = el.text.strip()
    return t or None
def child(el, name): return next((c for c in el if is_ovf(c, name)), None)
root = ET.parse(sys.argv[1]).getroot()
out = {'files': [], 'disks': [], 'networks': [], 'systems': [], 'products': []}
for sec in root:
    if is_ovf(sec, 'References'):
        for f in sec:
            if is_ovf(f, 'File'): out['files'].append([attr(f, 'id'), attr(f, 'href'), attr(f, 'size')])
    if is_ovf(sec, 'DiskSection'):
        for d in sec:
            if is_ovf(d, 'Disk'): out['disks'].append([attr(d, 'diskId'), attr(d, 'fileRef'), attr(d, 'capacity'), attr(d, 'capacityAllocationUnits')])
    if is_ovf(sec, 'NetworkSection'):
        for n in sec:
            if is_ovf(n, 'Network'): out['networks'].append(attr(n, 'name'))
def system(el, path):
    kind = 'system' if local(el.tag) == 'VirtualSystem' else 'collection'
    s = {'kind': kind, 'id': attr(el, 'id'), 'path': path, 'name': text(child(el, 'Name')), 'items': [], 'os': None, 'eula': 0}
    out['systems'].append(s)
    for c in el:
        if is_ovf(c, 'ProductSection'):
            out['products'].append([attr(el, 'id'), attr(c, 'class'), text(child(c, 'Product')), text(child(c, 'Vendor')), text(child(c, 'Version')), text(child(c, 'FullVersion')), len([p for p in c if is_ovf(p, 'Property')])])
        elif is_ovf(c, 'OperatingSystemSection'):
            ost = next((v for k, v in c.attrib.items() if k == '{%s}osType' % VMW), None)
            s['os'] = [attr(c, 'id'), ost, text(child(c, 'Description'))]
        elif is_ovf(c, 'EulaSection'): s['eula'] += 1
        elif is_ovf(c, 'VirtualHardwareSection'):
            for it in c:
                if local(it.tag) in ('Item', 'StorageItem', 'EthernetPortItem'):
                    f = lambda n: next((text(x) for x in it if local(x.tag) == n), None)
                    s['items'].append([local(it.tag), f('ResourceType'), f('VirtualQuantity'), f('AllocationUnits'),
                        [text(x) for x in it if local(x.tag) == 'Connection' and text(x)],
                        [text(x) for x in it if local(x.tag) == 'HostResource' and text(x)]])
        elif kind == 'collection' and local(c.tag) in ('VirtualSystem', 'VirtualSystemCollection') and ns(c.tag) in OVF + ('',):
            system(c, path + [attr(el, 'id')])
for c in root:
    if local(c.tag) in ('VirtualSystem', 'VirtualSystemCollection'): system(c, [])
print(json.dumps(out))
`;

interface PyFacts {
  files: Array<[string, string, string | null]>;
  disks: Array<[string, string | null, string | null, string | null]>;
  networks: string[];
  systems: Array<{
    kind: string;
    id: string;
    path: string[];
    name: string | null;
    items: Array<[string, string | null, string | null, string | null, string[], string[]]>;
    os: [string | null, string | null, string | null] | null;
    eula: number;
  }>;
  products: Array<
    [string, string | null, string | null, string | null, string | null, string | null, number]
  >;
}

const pyFacts = (path: string): PyFacts =>
  JSON.parse(run('/usr/bin/python3', ['-c', PY_FACTS, path])) as PyFacts;
const u = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

function compare(env: OvfEnvelope, py: PyFacts): void {
  assert.deepEqual(
    env.files.map((f) => [f.id, f.href, f.size === undefined ? null : String(f.size)]),
    py.files,
  );
  assert.deepEqual(
    env.disks.map((d) => [d.diskId, u(d.fileRef), u(d.capacity), u(d.capacityUnits)]),
    py.disks,
  );
  assert.deepEqual(
    env.networks.map((n) => n.name),
    py.networks,
  );
  assert.equal(env.systems.length, py.systems.length);
  env.systems.forEach((s, i) => {
    const p = py.systems[i]!;
    assert.equal(s.kind, p.kind);
    assert.equal(s.id, p.id);
    assert.deepEqual(s.path, p.path);
    assert.equal(u(s.name), p.name);
    assert.equal(s.eula.sections, p.eula);
    assert.deepEqual(
      s.os === undefined
        ? null
        : [s.os.id === undefined ? null : String(s.os.id), u(s.os.osType), u(s.os.description)],
      p.os,
    );
    const items = s.hardware.flatMap((h) => h.items);
    assert.deepEqual(
      items.map((it) => [
        it.element,
        it.resourceType === undefined ? null : String(it.resourceType),
        it.virtualQuantity === undefined ? null : String(it.virtualQuantity),
        u(it.allocationUnits),
        it.connections,
        it.hostResources,
      ]),
      p.items,
      `items of ${s.id}`,
    );
  });
  assert.deepEqual(
    env.products.map((p) => [
      p.owner,
      u(p.class),
      u(p.product),
      u(p.vendor),
      u(p.version),
      u(p.fullVersion),
      p.properties,
    ]),
    py.products,
  );
}

describe('OVF envelope: real descriptors, as published', () => {
  for (const name of REAL) {
    it(`${name}: every fact agrees with Python's ElementTree`, () => {
      const path = join(FIXTURES, name);
      const env = parseOvf(readFileSync(path), path);
      compare(env, pyFacts(path));
      assert.equal(env.version, '1.x');
    });
  }

  it('JeOS: capacity and memory in their allocation units, disk and ISO host resources resolved', () => {
    const env = parseOvf(readFileSync(join(FIXTURES, REAL[0]!)), 'jeos.ovf');
    const disk = env.disks[0]!;
    // ovf:capacity="2048" in "byte * 2^20" (DSP0004 programmatic units).
    assert.equal(disk.capacityBytes, 2048 * 2 ** 20);
    const hw = env.systems[0]!.hardware[0]!;
    assert.equal(hw.cpus, 1);
    assert.equal(hw.memoryBytes, 512 * 2 ** 20);
    assert.deepEqual(hw.systemTypes, ['vmx-07']);
    assert.equal(hw.transport, 'iso com.vmware.guestInfo');
    assert.deepEqual(
      hw.drives.map((d) => [d.item.kind, d.disk?.diskId, d.file?.href]),
      [
        ['disk', 'system', 'system.vmdk'],
        ['cdrom', undefined, 'custom.iso'],
      ],
    );
    assert.equal(hw.nics[0]!.network?.name, 'Network 1');
    assert.equal(hw.nics[0]!.adapterType, 'PCNet32');
    // The vendor's `&amp;` is decoded by the XML layer.
    assert.equal(env.products[0]!.vendor, 'VMware R&D, Denmark');
    assert.deepEqual(env.problems, []);
  });

  it('Bitnami: 17 × 2^30 bytes, 1024 MB, one NIC on "bridged"', () => {
    const env = parseOvf(readFileSync(join(FIXTURES, REAL[1]!)), 'bitnami.ovf');
    assert.equal(env.disks[0]!.capacityBytes, 17 * 2 ** 30);
    assert.equal(env.systems[0]!.hardware[0]!.memoryBytes, 1024 * 2 ** 20);
    assert.deepEqual(
      env.systems[0]!.hardware[0]!.nics.map((n) => n.connection),
      ['bridged'],
    );
    assert.equal(env.products.length, 0);
  });

  it('complete_vsc: a collection of two systems sharing one disk, EULAs at both levels', () => {
    const env = parseOvf(readFileSync(join(FIXTURES, REAL[2]!)), 'vsc.ovf');
    assert.deepEqual(
      env.systems.map((s) => [s.kind, s.id, s.path.join('/')]),
      [
        ['collection', 'vsc1', ''],
        ['system', 'vs1', 'vsc1'],
        ['system', 'vs2', 'vsc1'],
      ],
    );
    // Capacity without units is bytes.
    assert.equal(env.disks[0]!.capacityBytes, 107373568);
    assert.equal(env.systems[0]!.eula.sections, 1);
    assert.equal(env.systems[0]!.eula.licenseChars, 'Contents of vApp license'.length);
    assert.equal(env.systems[1]!.hardware[0]!.drives.length, 2);
    assert.ok(env.systems[1]!.hardware[0]!.drives.every((d) => d.file?.href === 'nostalgia-disk1.vmdk'));
    assert.deepEqual(env.problems, []);
  });
});

/** An OVF 2.0 document in VirtualBox's shape: StorageItem/EthernetPortItem, `.xsd` CIM namespaces, MegaBytes. */
const OVF2 = `<?xml version="1.0"?>
<Envelope ovf:version="2.0" xml:lang="en-US" xmlns="http://schemas.dmtf.org/ovf/envelope/2"
  xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/2"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:epasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_EthernetPortAllocationSettingData.xsd"
  xmlns:sasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_StorageAllocationSettingData.xsd">
  <References>
    <File ovf:id="file1" ovf:href="appliance-disk001.vmdk" ovf:size="123"/>
    <File ovf:id="file2" ovf:href="big.vmdk" ovf:chunkSize="1073741824"/>
  </References>
  <DiskSection>
    <Info>List of the virtual disks used in the package</Info>
    <Disk ovf:capacity="4" ovf:capacityAllocationUnits="GigaBytes" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
    <Disk ovf:capacity="\${disk.size}" ovf:diskId="vmdisk2" ovf:fileRef="file2"/>
  </DiskSection>
  <NetworkSection>
    <Info>Logical networks used in the package</Info>
    <Network ovf:name="NAT"><Description>Logical network used by this appliance.</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="appliance">
    <Info>A virtual machine</Info>
    <ProductSection>
      <Info>Meta-information about the installed software</Info>
      <Product>Example Firewall</Product>
      <Vendor>Example Networks, Inc.</Vendor>
      <Version>7.2</Version>
      <FullVersion>7.2.4 build 1234</FullVersion>
      <ProductUrl>https://example.com/fw</ProductUrl>
      <VendorUrl>https://example.com</VendorUrl>
    </ProductSection>
    <EulaSection><Info>License agreement for the virtual system</Info><License>Terms.</License></EulaSection>
    <OperatingSystemSection ovf:id="102"><Info>The kind of installed guest operating system</Info><Description>Other_64</Description></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements for a virtual machine</Info>
      <System><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType></System>
      <Item ovf:configuration="large"><rasd:Caption>4 virtual CPU</rasd:Caption><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>4</rasd:VirtualQuantity></Item>
      <Item><rasd:Caption>2 virtual CPU</rasd:Caption><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>2048</rasd:VirtualQuantity></Item>
      <Item><rasd:Address>0</rasd:Address><rasd:Caption>sataController0</rasd:Caption><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>AHCI</rasd:ResourceSubType><rasd:ResourceType>20</rasd:ResourceType></Item>
      <StorageItem><sasd:AddressOnParent>0</sasd:AddressOnParent><sasd:Caption>disk1</sasd:Caption><sasd:HostResource>/disk/vmdisk1</sasd:HostResource><sasd:InstanceID>4</sasd:InstanceID><sasd:Parent>3</sasd:Parent><sasd:ResourceType>17</sasd:ResourceType></StorageItem>
      <EthernetPortItem><epasd:AutomaticAllocation>true</epasd:AutomaticAllocation><epasd:Caption>Ethernet adapter on 'NAT'</epasd:Caption><epasd:Connection>NAT</epasd:Connection><epasd:InstanceID>5</epasd:InstanceID><epasd:ResourceSubType>E1000</epasd:ResourceSubType><epasd:ResourceType>10</epasd:ResourceType></EthernetPortItem>
      <EthernetPortItem><epasd:Connection>DMZ</epasd:Connection><epasd:InstanceID>6</epasd:InstanceID><epasd:ResourceType>10</epasd:ResourceType></EthernetPortItem>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`;

describe('OVF 2.0 (VirtualBox shape) and loose descriptors', () => {
  it('reads StorageItem, EthernetPortItem, MegaBytes, deployment-specific items and property capacities', () => {
    const env = parseOvf(OVF2, 'v2.ovf');
    assert.equal(env.version, '2.x');
    assert.equal(env.versionAttribute, '2.0');
    const hw = env.systems[0]!.hardware[0]!;
    // The item that applies to every configuration wins over the `large` one listed first.
    assert.equal(hw.cpus, 2);
    assert.equal(hw.memoryBytes, 2048 * 2 ** 20);
    assert.equal(env.disks[0]!.capacityBytes, 4 * 2 ** 30);
    assert.equal(env.disks[1]!.capacityBytes, undefined);
    assert.equal(env.files[1]!.chunkSize, 2 ** 30);
    assert.deepEqual(
      hw.drives.map((d) => [d.item.element, d.disk?.diskId, d.file?.href]),
      [['StorageItem', 'vmdisk1', 'appliance-disk001.vmdk']],
    );
    assert.deepEqual(
      hw.nics.map((n) => [n.item.element, n.connection, n.network?.name]),
      [
        ['EthernetPortItem', 'NAT', 'NAT'],
        ['EthernetPortItem', 'DMZ', undefined],
      ],
    );
    assert.equal(hw.items.find((i) => i.resourceType === 20)?.kind, 'controller');
    const p = env.products[0]!;
    assert.deepEqual(
      [p.product, p.vendor, p.version, p.fullVersion, p.productUrl, p.vendorUrl],
      [
        'Example Firewall',
        'Example Networks, Inc.',
        '7.2',
        '7.2.4 build 1234',
        'https://example.com/fw',
        'https://example.com',
      ],
    );
    assert.equal(env.systems[0]!.os?.id, 102);
    // Only the unknown network is a problem; the `${property}` capacity is not.
    assert.match(env.problems[0]!.message, /"DMZ", not in NetworkSection/);
    assert.equal(env.problems.length, 1);
    // Python agrees on the shape.
    const py = JSON.parse(
      run('/usr/bin/python3', [
        '-c',
        PY_FACTS.replace('ET.parse(sys.argv[1])', 'ET.ElementTree(ET.fromstring(sys.argv[1]))'),
        OVF2,
      ]),
    ) as PyFacts;
    compare(env, py);
  });

  it('records what it cannot read and goes on', () => {
    const env = parseOvf(
      `<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
        <References><File ovf:href="a.vmdk"/><File ovf:id="f1" ovf:href="b.vmdk" ovf:size="big"/></References>
        <DiskSection><Disk ovf:diskId="d1" ovf:fileRef="nope" ovf:capacity="12" ovf:capacityAllocationUnits="parsecs"/><Disk/></DiskSection>
        <VirtualSystem ovf:id="vm">
          <VirtualHardwareSection>
            <Item><rasd:ResourceType xmlns:rasd="urn:x">three</rasd:ResourceType></Item>
            <Item><ResourceType>17</ResourceType><HostResource>ovf:/disk/missing</HostResource><HostResource>nfs://x</HostResource></Item>
            <Item><ResourceType>4</ResourceType><VirtualQuantity>-1</VirtualQuantity></Item>
          </VirtualHardwareSection>
        </VirtualSystem>
        <VirtualSystem ovf:id="second"/>
      </Envelope>`,
      'loose.ovf',
    );
    const messages = env.problems.map((p) => p.message).join('\n');
    for (const re of [
      /File without ovf:id/,
      /ovf:size "big"/,
      /Disk without ovf:diskId/,
      /capacity "12" in "parsecs" cannot be read/,
      /ResourceType "three"/,
      /names no disk/,
      /not ovf:\/disk\/ID/,
      /VirtualQuantity "-1"/,
      /2 content elements/,
      /second: no VirtualHardwareSection/,
      /refers to file "nope"/,
    ]) {
      assert.match(messages, re);
    }
    assert.equal(env.files.length, 1);
    assert.equal(env.systems.length, 2);
    assert.ok(env.problems.every((p) => p.line === undefined || p.line > 0));
  });

  it('refuses what is not an OVF envelope, or not safe XML', () => {
    expectError(() => parseOvf('<domain type="kvm"/>', 'x.ovf'), 'E_UNSUPPORTED_FORMAT', {
      layer: /OVF envelope/,
    });
    expectError(
      () => parseOvf('<!DOCTYPE Envelope [<!ENTITY x "y">]><Envelope>&x;</Envelope>', 'x.ovf'),
      'E_UNSUPPORTED_FORMAT',
      /DTDs/,
    );
    expectError(() => parseOvf(Buffer.from([0x3c, 0xff, 0xfe]), 'x.ovf'), 'E_UNSUPPORTED_FORMAT');
    const deep = '<Envelope>' + '<a>'.repeat(100) + '</a>'.repeat(100) + '</Envelope>';
    expectError(() => parseOvf(deep, 'x.ovf'), 'E_LIMIT');
    const unknownNs = parseOvf('<Envelope xmlns="http://www.vmware.com/schema/ovf/1/envelope"/>', 'old.ovf');
    assert.equal(unknownNs.version, 'unknown');
    assert.match(unknownNs.problems[0]!.message, /not OVF 1.x or 2.x/);
  });

  it('allocation units and host resources', () => {
    assert.equal(allocationUnitsMultiplier(undefined), 1);
    assert.equal(allocationUnitsMultiplier('byte'), 1);
    assert.equal(allocationUnitsMultiplier('byte * 2^30'), 2 ** 30);
    assert.equal(allocationUnitsMultiplier('byte*2^20'), 2 ** 20);
    assert.equal(allocationUnitsMultiplier('byte * 10^3'), 1000);
    assert.equal(allocationUnitsMultiplier('byte * 512'), 512);
    assert.equal(allocationUnitsMultiplier('KiloBytes'), 1024);
    assert.equal(allocationUnitsMultiplier('hertz * 10^6'), undefined);
    assert.equal(allocationUnitsMultiplier('byte * 2^99'), undefined);
    assert.deepEqual(parseHostResource('ovf:/disk/vmdisk1'), { kind: 'disk', id: 'vmdisk1' });
    assert.deepEqual(parseHostResource('/disk/vmdisk1'), { kind: 'disk', id: 'vmdisk1' });
    assert.deepEqual(parseHostResource('ovf:/file/isofile'), { kind: 'file', id: 'isofile' });
    assert.equal(parseHostResource('ovf://disk/x'), undefined);
  });

  it('mutated real descriptors never crash the reader', () => {
    const texts = REAL.map((n) => readFileSync(join(FIXTURES, n), 'utf8'));
    const edit = fc.tuple(
      fc.nat(),
      fc.nat({ max: 40 }),
      fc.constantFrom(
        '',
        '<',
        '>',
        '"',
        '&amp;',
        '</Item>',
        '<Item>',
        'ovf:',
        ' ',
        '${x}',
        '99999999999999999999',
        '-',
        'Envelope',
      ),
    );
    fc.assert(
      fc.property(
        fc.nat({ max: texts.length - 1 }),
        fc.array(edit, { minLength: 1, maxLength: 5 }),
        (which, edits) => {
          let t = texts[which]!;
          for (const [at, del, ins] of edits) {
            const p = at % (t.length + 1);
            t = t.slice(0, p) + ins + t.slice(p + del);
          }
          onlyHyperwardErrors(() => {
            const env = parseOvf(t, 'fuzz.ovf');
            assert.ok(env.problems.length <= 201);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
