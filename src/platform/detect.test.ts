import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { detectConfigKind } from './detect.js';

test('detects each configuration kind by content', () => {
  assert.equal(detectConfigKind("<?xml version='1.0'?>\n<!-- x -->\n<domain type='kvm'>"), 'libvirt-domain');
  assert.equal(detectConfigKind('<network>\n<name>default</name>'), 'libvirt-network');
  assert.equal(detectConfigKind("<filter name='clean-traffic'>"), 'libvirt-nwfilter');
  assert.equal(
    detectConfigKind('.encoding = "UTF-8"\nconfig.version = "8"\nvirtualHW.version = "19"\n'),
    'vmx',
  );
  assert.equal(
    detectConfigKind(
      'boot: order=scsi0\ncores: 2\nmemory: 2048\nnet0: virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0\n',
    ),
    'proxmox-vm',
  );
  assert.equal(
    detectConfigKind('   Path: /UserVars/ESXiShellTimeOut\n   Type: integer\n   Int Value: 0\n'),
    'esxcli-advanced',
  );
  assert.equal(
    detectConfigKind('#TYPE VMware.Vim.OptionValue\n"Name","Value","Type","Entity"\n'),
    'powercli-advanced',
  );
  assert.equal(detectConfigKind('"Value","Name"\n"900","UserVars.ESXiShellTimeOut"\n'), 'powercli-advanced');
  assert.equal(detectConfigKind('Name;Value\n'), 'powercli-advanced');
  assert.equal(detectConfigKind('\u0000\u0001binary'), 'unknown');
  assert.equal(detectConfigKind('<html>'), 'unknown');
  assert.equal(
    detectConfigKind('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "x">]>\n<domain>&a;</domain>'),
    'libvirt-domain',
  );
});

test('never throws on arbitrary text (property)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 3000 }), (s) => void detectConfigKind(s)),
    { numRuns: 500 },
  );
});
