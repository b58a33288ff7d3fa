import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Types } from '@cyclonedx/cyclonedx-library';
import fc from 'fast-check';
import {
  applianceCpeCandidates,
  cpeCandidates,
  escapeCpeValue,
  normaliseProduct,
  normaliseVendor,
} from './cpe.js';
import { parseOvf } from './ovf.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'ovf');

/** The CPE 2.2/2.3 well-formedness pattern of the official schema, as CycloneDX ships it: the syntax oracle. */
const wellFormed = (cpe: string): boolean => Types.isCPE(cpe);

/** The fields of a formatted string: split at colons that are not escaped (a backslash escapes one character). */
function fields(cpe: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < cpe.length; i++) {
    const ch = cpe[i]!;
    if (ch === '\\') cur += ch + (cpe[++i] ?? '');
    else if (ch === ':') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const cpes = (id: Parameters<typeof cpeCandidates>[0]): string[] => cpeCandidates(id).map((c) => c.cpe);

describe('CPE candidates', () => {
  it('reach the names NVD actually uses for well-known appliance products', () => {
    // Each expected name is a published NVD CPE; the input is what the vendor's ProductSection says.
    const known: Array<[Parameters<typeof cpeCandidates>[0], string]> = [
      [
        { product: 'VMware vCenter Server', vendor: 'VMware, Inc.', version: '8.0' },
        'cpe:2.3:a:vmware:vcenter_server:8.0:*:*:*:*:*:*:*',
      ],
      [
        { product: 'FortiManager', vendor: 'Fortinet, Inc.', version: '7.0.0' },
        'cpe:2.3:a:fortinet:fortimanager:7.0.0:*:*:*:*:*:*:*',
      ],
      [
        { product: 'BIG-IP Local Traffic Manager', vendor: 'F5 Networks, Inc.', version: '16.1.0' },
        'cpe:2.3:a:f5:big-ip_local_traffic_manager:16.1.0:*:*:*:*:*:*:*',
      ],
      [
        { product: 'Microsoft SQL Server', vendor: 'Microsoft Corporation', version: '2019' },
        'cpe:2.3:a:microsoft:sql_server:2019:*:*:*:*:*:*:*',
      ],
      [
        { product: 'GitLab', vendor: 'GitLab Inc.', version: '15.0.0', fullVersion: 'GitLab 15.0.0-ee' },
        'cpe:2.3:a:gitlab:gitlab:15.0.0:*:*:*:*:*:*:*',
      ],
      [
        { product: 'Splunk Enterprise', vendor: 'Splunk Inc.', version: '9.0.1' },
        'cpe:2.3:a:splunk:splunk_enterprise:9.0.1:*:*:*:*:*:*:*',
      ],
    ];
    for (const [id, expected] of known) {
      const got = cpes(id);
      assert.ok(got.includes(expected), `${expected} not among ${got.join(' ')}`);
      assert.ok(got.every(wellFormed));
    }
    // The plainest reading comes first.
    assert.equal(cpes(known[0]![0])[0], known[0]![1]);
  });

  it('the real JeOS descriptor: vendor with & and a comma escaped, Version and FullVersion both tried', () => {
    const env = parseOvf(readFileSync(join(FIXTURES, 'jeos-centos6-VM_OVF10.ovf')), 'jeos.ovf');
    const all = applianceCpeCandidates(env);
    // Only the branding section names a product; the property-only sections are passed over.
    assert.equal(all.length, 1);
    const got = all[0]!.candidates.map((c) => c.cpe);
    assert.ok(
      got.includes('cpe:2.3:a:vmware_r\\&d\\,_denmark:centos_6_jeos_-_minimal:1.0:*:*:*:*:*:*:*'),
      got.join('\n'),
    );
    assert.ok(got.includes('cpe:2.3:a:vmware_r\\&d\\,_denmark:centos_6_jeos_-_minimal:1.0.0:*:*:*:*:*:*:*'));
    assert.ok(got.includes('cpe:2.3:a:vmware:centos_6_jeos_-_minimal:1.0:*:*:*:*:*:*:*'));
    assert.ok(got.every(wellFormed));
    assert.equal(all[0]!.candidates[0]!.confidence, 'high');
  });

  it('the real vApp descriptor: `VMware, Inc.` is vmware; 1.0 and 1.0-1234', () => {
    const env = parseOvf(readFileSync(join(FIXTURES, 'complete_vsc.ovf')), 'vsc.ovf');
    const got = applianceCpeCandidates(env).flatMap((a) => a.candidates.map((c) => c.cpe));
    assert.deepEqual(got.slice(0, 2), [
      'cpe:2.3:a:vmware:complete_test_vapp_with_two_vms:1.0:*:*:*:*:*:*:*',
      'cpe:2.3:a:vmware:complete_test_vapp_with_two_vms:1.0-1234:*:*:*:*:*:*:*',
    ]);
  });

  it('a descriptive FullVersion gives the version inside it; no version gives ANY', () => {
    const got = cpeCandidates({
      product: 'Application Director',
      vendor: 'VMware, Inc.',
      fullVersion: 'ApplicationDirector 5.0.0.0 Build 862123',
    });
    assert.equal(got[0]!.cpe, 'cpe:2.3:a:vmware:application_director:5.0.0.0:*:*:*:*:*:*:*');
    assert.equal(got[0]!.confidence, 'medium');
    assert.equal(cpes({ product: 'Thing', vendor: 'Acme Ltd' })[0], 'cpe:2.3:a:acme:thing:*:*:*:*:*:*:*:*');
    assert.deepEqual(cpes({ vendor: 'Acme' }), []);
    assert.deepEqual(cpes({ product: '   ' }), []);
    // A lone `-` would read as NA: no name.
    assert.deepEqual(cpes({ product: '-', vendor: '-' }), []);
    // No vendor: the product stands in for it, at low confidence.
    const nv = cpeCandidates({ product: 'pfSense', version: '2.7.0' });
    assert.equal(nv[0]!.cpe, 'cpe:2.3:a:pfsense:pfsense:2.7.0:*:*:*:*:*:*:*');
    assert.equal(nv[0]!.confidence, 'low');
  });

  it('names: corporate suffixes, accents, blanks', () => {
    assert.equal(normaliseVendor('VMware, Inc.'), 'vmware');
    assert.equal(normaliseVendor('Oracle Corporation'), 'oracle');
    assert.equal(normaliseVendor('Example Co., Ltd.'), 'example');
    assert.equal(normaliseVendor('Foo Systems LLC'), 'foo_systems');
    assert.equal(normaliseVendor('Zinc'), 'zinc');
    assert.equal(normaliseVendor('Inc'), 'inc');
    assert.equal(normaliseVendor('Société Générale SA'), 'societe_generale_sa');
    assert.equal(normaliseProduct('  Big   Product\tX '), 'big_product_x');
  });

  it('escapes per the CPE 2.3 formatted-string binding', () => {
    assert.equal(escapeCpeValue('big$money_2010'), 'big\\$money_2010');
    assert.equal(escapeCpeValue('foo\\bar'), 'foo\\\\bar');
    assert.equal(escapeCpeValue('1.0-rc_2'), '1.0-rc_2');
    assert.equal(escapeCpeValue('a*b?c'), 'a\\*b\\?c');
    assert.equal(escapeCpeValue('-'), '-');
    assert.equal(escapeCpeValue('x:y'), 'x\\:y');
    for (const v of ['big\\$money_2010', 'foo\\\\bar', 'a\\*b\\?c', 'x\\:y']) {
      assert.ok(wellFormed(`cpe:2.3:a:${v}:p:1:*:*:*:*:*:*:*`), v);
    }
  });

  it('whatever a ProductSection says, every candidate is a well-formed CPE 2.3 name', () => {
    const text = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'grapheme', maxLength: 30 }));
    fc.assert(
      fc.property(
        fc.record({ product: text, vendor: text, version: text, fullVersion: text }, { requiredKeys: [] }),
        (id) => {
          const got = cpeCandidates(id);
          assert.ok(got.length <= 16);
          assert.equal(new Set(got.map((c) => c.cpe)).size, got.length);
          for (const c of got) {
            assert.ok(wellFormed(c.cpe), c.cpe);
            assert.equal(fields(c.cpe).length, 13, c.cpe);
            assert.doesNotMatch(c.vendor + c.product, /[A-Z\s]/);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
